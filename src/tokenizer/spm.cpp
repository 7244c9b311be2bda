// SentencePiece BPE: start from single UTF-8 characters and repeatedly merge
// the adjacent pair whose merged text is the highest-scoring vocabulary entry
// (leftmost on ties). What never becomes a token falls back to byte tokens.
#include <fmt/format.h>

#include <queue>

#include "ullm/error.hpp"

#include "tokenizer/vocab.hpp"

namespace ullm {
namespace {

size_t utf8_length(unsigned char lead) {
  if (lead < 0x80) return 1;
  if ((lead & 0xe0) == 0xc0) return 2;
  if ((lead & 0xf0) == 0xe0) return 3;
  if ((lead & 0xf8) == 0xf0) return 4;
  return 1;  // a stray continuation or invalid byte stands alone
}

struct Symbol {
  int prev;
  int next;
  size_t begin;
  size_t length;  // 0 once merged into its left neighbour
};

struct Candidate {
  float score;
  int left;
  int right;
  size_t length;  // merged length when queued; stale if either side changed since
  bool operator<(const Candidate& o) const {
    return score < o.score || (score == o.score && left > o.left);  // max-heap: best score, then leftmost
  }
};

class SpmSession {
 public:
  SpmSession(const Vocab& vocab, std::string_view text) : vocab_(vocab), text_(text) {}

  void encode(std::vector<Token>& out) {
    for (size_t pos = 0; pos < text_.size();) {
      const size_t len = std::min(utf8_length(static_cast<unsigned char>(text_[pos])), text_.size() - pos);
      const int index = static_cast<int>(symbols_.size());
      symbols_.push_back({index - 1, index + 1, pos, len});
      pos += len;
    }
    if (symbols_.empty()) return;
    symbols_.back().next = -1;
    for (int i = 1; i < static_cast<int>(symbols_.size()); ++i) consider(i - 1, i);

    while (!queue_.empty()) {
      const Candidate c = queue_.top();
      queue_.pop();
      Symbol& left = symbols_[c.left];
      Symbol& right = symbols_[c.right];
      if (left.length == 0 || right.length == 0 || left.length + right.length != c.length) continue;
      left.length += right.length;
      right.length = 0;
      left.next = right.next;
      if (right.next >= 0) symbols_[right.next].prev = c.left;
      consider(left.prev, c.left);
      consider(c.left, left.next);
    }
    for (int i = 0; i >= 0; i = symbols_[i].next) emit(symbols_[i].begin, symbols_[i].length, out);
  }

 private:
  void consider(int left, int right) {
    if (left < 0 || right < 0) return;
    const size_t begin = symbols_[left].begin;
    const size_t length = symbols_[left].length + symbols_[right].length;
    const std::string_view merged = text_.substr(begin, length);
    const Token id = vocab_.find(merged);
    if (id < 0) return;
    queue_.push({vocab_.score[id], left, right, length});
  }

  // Merges only ever form vocabulary entries, so a symbol is a token unless it
  // is a single character the vocabulary lacks: that becomes byte tokens.
  void emit(size_t begin, size_t length, std::vector<Token>& out) {
    const std::string_view s = text_.substr(begin, length);
    if (const Token id = vocab_.find(s); id >= 0) {
      out.push_back(id);
      return;
    }
    for (unsigned char byte : s) {
      const Token b = vocab_.byte_token[byte] >= 0 ? vocab_.byte_token[byte] : vocab_.unk;
      if (b < 0) {
        throw InvalidArgument(fmt::format("byte 0x{:02X} has no token and the vocabulary has no <unk>", byte));
      }
      out.push_back(b);
    }
  }

  const Vocab& vocab_;
  std::string_view text_;
  std::vector<Symbol> symbols_;
  std::priority_queue<Candidate> queue_;
};

}  // namespace

void spm_encode(const Vocab& vocab, std::string_view text, std::vector<Token>& out) {
  SpmSession(vocab, text).encode(out);
}

}  // namespace ullm
