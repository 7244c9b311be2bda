// Byte-level BPE as GPT-2 introduced it and Qwen, Llama 3, SmolLM, ... use.
#include <array>
#include <string>

#include "tokenizer/pair_merger.hpp"
#include "tokenizer/unicode.hpp"
#include "tokenizer/vocab.hpp"

namespace ullm {
namespace {

// GPT-2 writes printable Latin-1 bytes as themselves and every other byte as
// U+0100 onwards, in byte order, so no token text contains space or control.
struct ByteLevelTable {
  static constexpr char32_t kCodePoints = 0x100 + 68;  // 68 bytes are unprintable
  std::array<std::string, 256> utf8_of;
  std::array<int16_t, kCodePoints> byte_of_code_point;  // -1: stands for no byte
  ByteLevelTable() {
    byte_of_code_point.fill(-1);
    char32_t next_unprintable = 0x100;
    for (int b = 0; b < 256; ++b) {
      const bool printable = (b >= '!' && b <= '~') || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
      const char32_t cp = printable ? static_cast<char32_t>(b) : next_unprintable++;
      unicode::append_utf8(utf8_of[b], cp);
      byte_of_code_point[cp] = static_cast<int16_t>(b);
    }
  }
  // The byte a code point stands for, or -1.
  int byte_of(char32_t cp) const { return cp < kCodePoints ? byte_of_code_point[cp] : -1; }
};

const ByteLevelTable& byte_level_table() {
  static const ByteLevelTable table;
  return table;
}

}  // namespace

std::string byte_level_encode(std::string_view bytes) {
  const ByteLevelTable& table = byte_level_table();
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char b : bytes) out += table.utf8_of[b];
  return out;
}

std::string byte_level_decode(std::string_view text) {
  const ByteLevelTable& table = byte_level_table();
  std::string out;
  out.reserve(text.size());
  for (size_t pos = 0; pos < text.size();) {
    const unicode::CodePointAt c = unicode::code_point_at(text, pos);
    if (const int b = table.byte_of(c.code_point); b >= 0) {
      out += static_cast<char>(b);
    } else {
      out += text.substr(pos, c.length);
    }
    pos += c.length;
  }
  return out;
}

void bpe_encode(const Vocab& vocab, std::string_view word, bool whole_words_first, std::vector<Token>& out) {
  const std::string text = byte_level_encode(word);
  if (whole_words_first) {
    if (const Token id = vocab.find(text); id >= 0) {
      out.push_back(id);
      return;
    }
  }
  std::string pair;
  const auto symbols = merge_pairs(text, [&](std::string_view merged, size_t left_length) -> std::optional<double> {
    pair.assign(merged.substr(0, left_length));
    pair += ' ';
    pair += merged.substr(left_length);
    const auto it = vocab.merge_rank.find(pair);
    if (it == vocab.merge_rank.end()) return std::nullopt;
    return -static_cast<double>(it->second);
  });
  for (const TextSpan& symbol : symbols) {
    const std::string_view s = std::string_view(text).substr(symbol.begin, symbol.length);
    if (const Token id = vocab.find(s); id >= 0) {
      out.push_back(id);
      continue;
    }
    // A symbol that is not a token (a merge whose result the vocabulary lacks,
    // or a byte it never saw): its single-byte tokens; bytes without one are
    // dropped, as llama.cpp does.
    for (size_t pos = 0; pos < s.size();) {
      const size_t length = std::min(unicode::utf8_sequence_length(static_cast<unsigned char>(s[pos])), s.size() - pos);
      if (const Token id = vocab.find(s.substr(pos, length)); id >= 0) out.push_back(id);
      pos += length;
    }
  }
}

}  // namespace ullm
