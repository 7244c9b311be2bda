// How a byte-level BPE vocabulary cuts text into words before merging, by
// the name GGUF files give it in tokenizer.ggml.pre. Each pre-tokenizer is
// a list of regular expressions applied in turn: every expression splits
// every piece so far into its matches and the text between them.
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "tokenizer/regex.hpp"

namespace ullm {

class PreTokenizer {
 public:
  // Throws UnsupportedError for a name ullm does not know. An empty name is
  // llama.cpp's "default".
  static PreTokenizer named(std::string_view name);
  static std::span<const std::string_view> known_names();

  // The words of `text`, in order; together they are exactly `text`.
  std::vector<std::string_view> split(std::string_view text) const;

  const std::string& name() const { return name_; }
  // Whole words found in the vocabulary are taken as they are, without merging (Llama 3).
  bool ignore_merges() const { return ignore_merges_; }
  // The vocabulary adds BOS unless its metadata says otherwise.
  bool adds_bos_by_default() const { return adds_bos_; }

 private:
  PreTokenizer() = default;
  std::string name_;
  std::vector<Regex> expressions_;
  bool ignore_merges_ = false;
  bool adds_bos_ = false;
};

}  // namespace ullm
