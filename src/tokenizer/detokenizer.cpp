#include <utility>

#include "tokenizer/unicode.hpp"
#include "ullm/tokenizer.hpp"

namespace ullm {
namespace {

// Length of the longest prefix of s that does not end inside a UTF-8
// character which could still be completed by more bytes.
size_t complete_prefix(const std::string& s) {
  const size_t n = s.size();
  // Look back at most 3 bytes for the lead byte of a trailing multi-byte character.
  for (size_t back = 1; back <= 3 && back <= n; ++back) {
    const auto c = static_cast<unsigned char>(s[n - back]);
    if ((c & 0xc0) == 0x80) continue;  // continuation byte: keep looking for the lead
    return unicode::utf8_sequence_length(c) > back ? n - back : n;
  }
  return n;
}

}  // namespace

StreamingDecoder::StreamingDecoder(const Tokenizer& tokenizer, bool render_special)
    : tokenizer_(&tokenizer), render_special_(render_special) {}

std::string StreamingDecoder::push(Token token) {
  pending_ += tokenizer_->piece(token, render_special_);
  const size_t ready = complete_prefix(pending_);
  std::string out = pending_.substr(0, ready);
  pending_.erase(0, ready);
  return out;
}

std::string StreamingDecoder::finish() {
  return std::exchange(pending_, {});
}

}  // namespace ullm
