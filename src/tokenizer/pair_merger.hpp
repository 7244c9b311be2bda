// Greedy pairwise merging, the core of both SentencePiece BPE and byte-level
// BPE: start from single UTF-8 characters and repeatedly join the adjacent
// pair with the best priority (the leftmost of equals) until no pair is
// allowed to merge. The tokenizers differ only in how they rank a pair.
#pragma once

#include <optional>
#include <queue>
#include <string_view>
#include <vector>

#include "tokenizer/unicode.hpp"

namespace ullm {

struct TextSpan {
  size_t begin;
  size_t length;
};

// `priority(merged, left_length)` ranks joining text `merged` whose first
// `left_length` bytes are the left symbol: higher merges first, nullopt never.
// Returns the final symbols in order.
template <class Priority>
std::vector<TextSpan> merge_pairs(std::string_view text, Priority&& priority) {
  struct Symbol {
    int prev;
    int next;
    size_t begin;
    size_t length;  // 0 once merged into its left neighbour
  };
  struct Candidate {
    double priority;
    int left;
    int right;
    size_t length;  // merged length when queued; stale if either side has changed since
    bool operator<(const Candidate& o) const {
      return priority < o.priority || (priority == o.priority && left > o.left);
    }
  };

  std::vector<Symbol> symbols;
  for (size_t pos = 0; pos < text.size();) {
    const size_t length = std::min(unicode::symbol_length(static_cast<unsigned char>(text[pos])), text.size() - pos);
    const int index = static_cast<int>(symbols.size());
    symbols.push_back({index - 1, index + 1, pos, length});
    pos += length;
  }
  if (symbols.empty()) return {};
  symbols.back().next = -1;

  std::priority_queue<Candidate> queue;
  auto consider = [&](int left, int right) {
    if (left < 0 || right < 0) return;
    const size_t length = symbols[left].length + symbols[right].length;
    const std::optional<double> p = priority(text.substr(symbols[left].begin, length), symbols[left].length);
    if (p) queue.push({*p, left, right, length});
  };
  for (int i = 1; i < static_cast<int>(symbols.size()); ++i) consider(i - 1, i);

  while (!queue.empty()) {
    const Candidate c = queue.top();
    queue.pop();
    Symbol& left = symbols[c.left];
    Symbol& right = symbols[c.right];
    if (left.length == 0 || right.length == 0 || left.length + right.length != c.length) continue;
    left.length += right.length;
    right.length = 0;
    left.next = right.next;
    if (right.next >= 0) symbols[right.next].prev = c.left;
    consider(left.prev, c.left);
    consider(c.left, left.next);
  }

  std::vector<TextSpan> out;
  for (int i = 0; i >= 0; i = symbols[i].next) out.push_back({symbols[i].begin, symbols[i].length});
  return out;
}

}  // namespace ullm
