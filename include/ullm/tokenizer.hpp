// Text <-> token ids, built from a model's GGUF metadata.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace ullm {

using Token = int32_t;

namespace gguf {
class File;
}

struct EncodeOptions {
  // Prepend BOS if the vocabulary asks for it (tokenizer.ggml.add_bos_token).
  bool add_special = true;
  // Match control tokens such as "<s>" written in the text as single tokens;
  // when false they are tokenized as ordinary characters.
  bool parse_special = true;
};

struct DecodeOptions {
  // Render control tokens (BOS, EOS, ...) as their text instead of nothing.
  bool render_special = false;
  // Drop the space a SentencePiece vocabulary puts in front of the text.
  bool strip_leading_space = true;
};

class Tokenizer {
 public:
  // Throws UnsupportedError for a tokenizer model ullm does not implement and
  // FormatError for missing or inconsistent tokenizer.ggml.* keys.
  static Tokenizer from_gguf(const gguf::File& file);

  std::vector<Token> encode(std::string_view text, const EncodeOptions& options = {}) const;
  // Throws InvalidArgument for an id outside the vocabulary.
  std::string decode(std::span<const Token> tokens, const DecodeOptions& options = {}) const;
  // The bytes one token stands for (control tokens give "" unless render_special).
  std::string piece(Token token, bool render_special = false) const;

  int32_t vocab_size() const;
  Token bos() const;  // -1 if the vocabulary has none
  Token eos() const;  // -1 if the vocabulary has none
  bool adds_bos() const;
  // True for tokens that end generation (EOS, end-of-turn, ...).
  bool is_end_of_generation(Token token) const;
  bool is_control(Token token) const;
  // The stored vocabulary string of a token (e.g. "▁the" or "<0x0A>").
  const std::string& token_text(Token token) const;
  std::string_view model_name() const;

  struct Impl;

 private:
  explicit Tokenizer(std::shared_ptr<const Impl> impl) : impl_(std::move(impl)) {}
  std::shared_ptr<const Impl> impl_;
};

// Turns a stream of tokens into text without ever splitting a UTF-8
// character: bytes of an incomplete character are held back until the
// character is complete (or flushed by finish()).
class StreamingDecoder {
 public:
  explicit StreamingDecoder(const Tokenizer& tokenizer, bool render_special = false);
  // Returns the text that became complete with this token.
  std::string push(Token token);
  // Returns whatever is still held back (possibly an incomplete character).
  std::string finish();

 private:
  const Tokenizer* tokenizer_;
  bool render_special_;
  std::string pending_;
};

}  // namespace ullm
