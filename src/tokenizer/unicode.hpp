// The few Unicode facts the tokenizers need: UTF-8 decoding that keeps
// invalid bytes, the general-category class of a code point, White_Space.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace ullm::unicode {

// The first letter of the Unicode general category (L, M, N, P, S, Z, C).
enum class CharClass : uint8_t { Letter, Mark, Number, Punctuation, Symbol, Separator, Other };

// Bytes that are not part of valid UTF-8 decode to kInvalidBase + byte: outside
// Unicode, of class Other, so text with stray bytes still tokenizes byte for byte.
constexpr char32_t kInvalidBase = 0x110000;

CharClass char_class(char32_t cp);
// The White_Space property (what \s matches in Unicode-aware regular expressions).
bool is_white_space(char32_t cp);

// Length of the UTF-8 sequence a lead byte announces (1 for stray bytes).
size_t utf8_sequence_length(unsigned char lead);
// The length of the character llama.cpp's SentencePiece and BPE merges take
// at a byte, from its top bits alone (F8-FF count as 4-byte leads): without
// validation, so "\xFFabc" is one symbol, which then falls back to byte
// tokens. Callers cap it at the text's end.
size_t symbol_length(unsigned char lead);

// The code point starting at byte `pos` of `text` and its length in bytes
// (an invalid byte: kInvalidBase + byte, length 1). Overlong forms and
// surrogates are code points here, as llama.cpp reads them.
struct CodePointAt {
  char32_t code_point;
  size_t length;
};
CodePointAt code_point_at(std::string_view text, size_t pos);

struct DecodedText {
  std::vector<char32_t> code_points;
  std::vector<uint32_t> byte_offsets;  // one per code point, plus the text's end
};
DecodedText decode_utf8(std::string_view text);

void append_utf8(std::string& out, char32_t cp);

// `text` as llama.cpp's BPE tokenizers see it: each code point re-encoded
// (overlong forms in their shortest form), every byte that starts no
// sequence replaced by U+FFFD, and so each byte of a sequence past U+10FFFF
// (on which llama.cpp aborts).
std::string normalize_utf8(std::string_view text);

}  // namespace ullm::unicode
