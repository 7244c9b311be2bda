#include "tokenizer/unicode.hpp"

#include <algorithm>
#include <array>

namespace ullm::unicode {
namespace {

struct CharClassRun {
  char32_t first;
  CharClass char_class;
};

#include "tokenizer/unicode_tables.inc"

// The code point of the `length`-byte sequence at `pos`, or -1 (truncated, a
// byte that is no continuation, past U+10FFFF). Overlong forms and surrogates
// decode, as llama.cpp reads UTF-8 (unicode_cpt_from_utf8 checks the
// continuation bits only): its tokenizers take "\xC0\xAF" for '/', and so
// must ours to give the same tokens.
int64_t decode_sequence(std::string_view text, size_t pos, size_t length) {
  if (pos + length > text.size()) return -1;
  const auto lead = static_cast<unsigned char>(text[pos]);
  char32_t cp = length == 2 ? lead & 0x1f : length == 3 ? lead & 0x0f : lead & 0x07;
  for (size_t i = 1; i < length; ++i) {
    const auto c = static_cast<unsigned char>(text[pos + i]);
    if ((c & 0xc0) != 0x80) return -1;
    cp = (cp << 6) | (c & 0x3f);
  }
  return cp > 0x10ffff ? -1 : cp;
}

}  // namespace

CharClass char_class(char32_t cp) {
  if (cp >= 0x110000) return CharClass::Other;
  const auto after = std::upper_bound(kCharClassRuns.begin(), kCharClassRuns.end(), cp,
                                      [](char32_t c, const CharClassRun& run) { return c < run.first; });
  return std::prev(after)->char_class;
}

bool is_white_space(char32_t cp) {
  // PropList.txt, White_Space (unchanged since Unicode 6.3).
  return (cp >= 0x09 && cp <= 0x0d) || cp == 0x20 || cp == 0x85 || cp == 0xa0 || cp == 0x1680 ||
         (cp >= 0x2000 && cp <= 0x200a) || cp == 0x2028 || cp == 0x2029 || cp == 0x202f || cp == 0x205f || cp == 0x3000;
}

size_t utf8_sequence_length(unsigned char lead) {
  if (lead < 0x80) return 1;
  if ((lead & 0xe0) == 0xc0) return 2;
  if ((lead & 0xf0) == 0xe0) return 3;
  if ((lead & 0xf8) == 0xf0) return 4;
  return 1;
}

CodePointAt code_point_at(std::string_view text, size_t pos) {
  const auto lead = static_cast<unsigned char>(text[pos]);
  const size_t length = utf8_sequence_length(lead);
  const int64_t cp = length == 1 ? (lead < 0x80 ? lead : -1) : decode_sequence(text, pos, length);
  if (cp < 0) return {kInvalidBase + lead, 1};
  return {static_cast<char32_t>(cp), length};
}

DecodedText decode_utf8(std::string_view text) {
  DecodedText out;
  out.code_points.reserve(text.size());
  out.byte_offsets.reserve(text.size() + 1);
  for (size_t pos = 0; pos < text.size();) {
    const CodePointAt c = code_point_at(text, pos);
    out.code_points.push_back(c.code_point);
    out.byte_offsets.push_back(static_cast<uint32_t>(pos));
    pos += c.length;
  }
  out.byte_offsets.push_back(static_cast<uint32_t>(text.size()));
  return out;
}

std::string normalize_utf8(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t pos = 0; pos < text.size();) {
    const CodePointAt c = code_point_at(text, pos);
    append_utf8(out, c.code_point >= kInvalidBase ? 0xfffd : c.code_point);
    pos += c.length;
  }
  return out;
}

size_t symbol_length(unsigned char lead) {
  return lead < 0xc0 ? 1 : lead < 0xe0 ? 2 : lead < 0xf0 ? 3 : 4;
}

void append_utf8(std::string& out, char32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xc0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3f));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xe0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
    out += static_cast<char>(0x80 | (cp & 0x3f));
  } else {
    out += static_cast<char>(0xf0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3f));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
    out += static_cast<char>(0x80 | (cp & 0x3f));
  }
}

}  // namespace ullm::unicode
