// The vocabulary as stored in tokenizer.ggml.* metadata.
#pragma once

#include <array>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "ullm/tokenizer.hpp"

namespace ullm {

// GGUF token types (tokenizer.ggml.token_type).
enum class TokenType : int32_t {
  Undefined = 0,
  Normal = 1,
  Unknown = 2,
  Control = 3,
  UserDefined = 4,
  Unused = 5,
  Byte = 6,
};

// Lets maps keyed by std::string be searched with a std::string_view.
struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};
template <class Value>
using StringMap = std::unordered_map<std::string, Value, StringHash, std::equal_to<>>;

struct Vocab {
  std::vector<std::string> text;
  std::vector<float> score;
  std::vector<TokenType> type;
  StringMap<Token> id_of;  // later duplicates win, as in llama.cpp
  // Byte-level BPE: "left right" -> rank (lower merges first).
  StringMap<int32_t> merge_rank;
  Token bos = -1;
  Token eos = -1;
  Token unk = -1;
  Token eot = -1;
  bool add_bos = true;
  bool add_eos = false;
  bool add_space_prefix = true;
  std::array<Token, 256> byte_token{};  // "<0xNN>" per byte value, -1 when absent
  // Tokens that end a reply (EOS, end-of-turn, ...).
  std::vector<Token> end_of_generation;
  // Tokens matched as wholes in text (control, user-defined, unknown), longest first.
  std::vector<Token> special_by_length;
  // Special tokens that swallow the whitespace after them when matched in text.
  std::vector<bool> strips_right;

  int32_t size() const { return static_cast<int32_t>(text.size()); }
  Token find(std::string_view s) const {
    auto it = id_of.find(s);
    return it == id_of.end() ? -1 : it->second;
  }
};

// SentencePiece-style BPE over a score table (llama.cpp's "llama" tokenizer):
// appends the ids of `text` (already whitespace-escaped to U+2581) to `out`.
void spm_encode(const Vocab& vocab, std::string_view text, std::vector<Token>& out);

// Byte-level BPE (GPT-2 style): the word's bytes are written as printable
// code points (byte_level_encode), then adjacent pairs merge by rank. With
// `whole_words_first`, a word that is itself a token is taken as it is.
void bpe_encode(const Vocab& vocab, std::string_view word, bool whole_words_first, std::vector<Token>& out);
// GPT-2's byte -> code point table, and its inverse (code points outside the
// table are kept as their UTF-8).
std::string byte_level_encode(std::string_view bytes);
std::string byte_level_decode(std::string_view text);

}  // namespace ullm
