// The vocabulary as stored in tokenizer.ggml.* metadata.
#pragma once

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

struct Vocab {
  std::vector<std::string> text;
  std::vector<float> score;
  std::vector<TokenType> type;
  std::unordered_map<std::string, Token> id_of;  // later duplicates win, as in llama.cpp
  Token bos = -1;
  Token eos = -1;
  Token unk = -1;
  Token eot = -1;
  bool add_bos = true;
  bool add_space_prefix = true;
  std::array<Token, 256> byte_token{};  // "<0xNN>" per byte value, -1 when absent
  // Tokens matched as wholes in text (control, user-defined, unknown), longest first.
  std::vector<Token> special_by_length;

  int32_t size() const { return static_cast<int32_t>(text.size()); }
  Token find(std::string_view s) const {
    auto it = id_of.find(std::string(s));
    return it == id_of.end() ? -1 : it->second;
  }
};

// SentencePiece-style BPE over a score table (llama.cpp's "llama" tokenizer):
// appends the ids of `text` (already whitespace-escaped to U+2581) to `out`.
void spm_encode(const Vocab& vocab, std::string_view text, std::vector<Token>& out);

}  // namespace ullm
