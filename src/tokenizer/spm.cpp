// SentencePiece BPE: merge the adjacent pair whose joined text is the
// highest-scoring vocabulary entry. What never becomes a token falls back to
// byte tokens.
#include <fmt/format.h>

#include "tokenizer/pair_merger.hpp"
#include "tokenizer/vocab.hpp"
#include "ullm/error.hpp"

namespace ullm {

void spm_encode(const Vocab& vocab, std::string_view text, std::vector<Token>& out) {
  const auto symbols = merge_pairs(text, [&](std::string_view merged, size_t) -> std::optional<double> {
    const Token id = vocab.find(merged);
    if (id < 0) return std::nullopt;
    return vocab.score[id];
  });
  // Merges only ever form vocabulary entries, so a symbol is a token unless it
  // is a single character the vocabulary lacks: that becomes byte tokens.
  for (const TextSpan& symbol : symbols) {
    const std::string_view s = text.substr(symbol.begin, symbol.length);
    if (const Token id = vocab.find(s); id >= 0) {
      out.push_back(id);
      continue;
    }
    for (unsigned char byte : s) {
      const Token b = vocab.byte_token[byte] >= 0 ? vocab.byte_token[byte] : vocab.unk;
      if (b < 0) throw InvalidArgument(fmt::format("byte 0x{:02X} has no token and the vocabulary has no <unk>", byte));
      out.push_back(b);
    }
  }
}

}  // namespace ullm
