// The regular expressions pre-tokenizers split text with, matched over code
// points with Perl/Oniguruma semantics (what Hugging Face tokenizers use):
// the leftmost match wins, alternatives are tried in order, quantifiers are
// greedy and backtrack.
//
// Supported: literals; \r \n \t \f \v and escaped punctuation; \s \S;
// \p{L} \p{M} \p{N} \p{P} \p{S} \p{Z} \p{C} and \P{..}; classes [...] with
// ranges, negation and any of the above; groups (...) and (?:...);
// lookahead (?=...) (?!...); $ (end of text); ? * + {n} {n,} {n,m} on a
// single-character item. That is every pattern llama.cpp's BPE pre-tokenizers
// use except a few exotic ones; anything else is rejected when compiled.
//
// Matching is linear in the text for these patterns: a quantified class
// remembers where it already failed, so a search that retries at every start
// inside a long run of spaces does not start over each time.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ullm {

class Regex {
 public:
  // Throws InvalidArgument naming the pattern and the unsupported construct.
  explicit Regex(std::string_view pattern);

  struct Match {
    size_t begin;
    size_t end;
  };

  // Searches one text many times, left to right; caches what it learns.
  class Searcher {
   public:
    Searcher(const Regex& regex, std::span<const char32_t> text);
    // The leftmost match starting at or after `from`.
    std::optional<Match> next(size_t from);

   private:
    int64_t run(int pc, size_t pos);
    size_t class_run(int pc, size_t pos);

    struct Interval {
      size_t lo = 1, hi = 0;  // empty
    };
    const Regex& regex_;
    std::span<const char32_t> text_;
    std::vector<Interval> failed_continuations_;  // per class instruction
    std::vector<Interval> scanned_runs_;          // per class instruction: [start, end of run]
  };

  const std::string& pattern() const { return pattern_; }

 private:
  struct CharSet {
    bool negated = false;
    uint8_t class_mask = 0;  // bit i: unicode::CharClass i
    bool white_space = false;
    bool not_white_space = false;
    std::vector<std::pair<char32_t, char32_t>> ranges;
    bool contains(char32_t cp) const;
  };
  enum class Op : uint8_t { Class, Split, Jump, Lookahead, NegativeLookahead, End, Match };
  struct Instruction {
    Op op;
    int set = -1;     // Class: index into sets_
    size_t min = 0;   // Class: repetitions
    size_t max = 0;   //        (SIZE_MAX: unbounded)
    int target = -1;  // Split: the alternative tried second; Jump: destination;
                      // lookaheads: where matching continues (the body follows the instruction)
  };
  class Parser;

  std::string pattern_;
  std::vector<CharSet> sets_;
  std::vector<Instruction> program_;
};

}  // namespace ullm
