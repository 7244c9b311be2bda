#include "tokenizer/regex.hpp"

#include <fmt/format.h>

#include <cstdint>

#include "tokenizer/unicode.hpp"
#include "ullm/error.hpp"

namespace ullm {

bool Regex::CharSet::contains(char32_t cp) const {
  bool in = (class_mask >> static_cast<int>(unicode::char_class(cp))) & 1;
  if (!in && (white_space || not_white_space)) {
    const bool space = unicode::is_white_space(cp);
    in = (white_space && space) || (not_white_space && !space);
  }
  for (size_t i = 0; !in && i < ranges.size(); ++i) in = cp >= ranges[i].first && cp <= ranges[i].second;
  return in != negated;
}

// Recursive descent over the pattern's code points, emitting the program as it goes.
class Regex::Parser {
 public:
  explicit Parser(Regex& regex) : regex_(regex), pattern_(unicode::decode_utf8(regex.pattern_).code_points) {}

  void compile() {
    alternation();
    if (pos_ < pattern_.size()) fail("unbalanced ')'");
    emit({Op::Match});
  }

 private:
  static constexpr size_t kUnbounded = SIZE_MAX;

  [[noreturn]] void fail(std::string_view what) const {
    throw InvalidArgument(fmt::format("regular expression '{}': {} at offset {}", regex_.pattern_, what, pos_));
  }
  bool at_end() const { return pos_ >= pattern_.size(); }
  char32_t peek() const { return at_end() ? 0 : pattern_[pos_]; }
  char32_t take() {
    if (at_end()) fail("unexpected end");
    return pattern_[pos_++];
  }
  bool accept(char32_t c) {
    if (peek() != c || at_end()) return false;
    ++pos_;
    return true;
  }
  int emit(Instruction in) {
    regex_.program_.push_back(in);
    return static_cast<int>(regex_.program_.size()) - 1;
  }
  int here() const { return static_cast<int>(regex_.program_.size()); }

  // a|b|c  =>  split(L2) a jump(end) L2: split(L3) b jump(end) L3: nop c end:
  void alternation() {
    std::vector<int> jumps_to_end;
    for (;;) {
      const int split = emit({Op::Split});
      sequence();
      if (!accept('|')) {
        regex_.program_[split] = {Op::Jump, -1, 0, 0, split + 1};  // the last alternative needs no split
        break;
      }
      jumps_to_end.push_back(emit({Op::Jump}));
      regex_.program_[split].target = here();
    }
    for (int jump : jumps_to_end) regex_.program_[jump].target = here();
  }

  void sequence() {
    while (!at_end() && peek() != '|' && peek() != ')') item();
  }

  void item() {
    if (accept('(')) {
      Op look = Op::Jump;
      if (accept('?')) {
        const char32_t kind = take();
        if (kind == '=') {
          look = Op::Lookahead;
        } else if (kind == '!') {
          look = Op::NegativeLookahead;
        } else if (kind != ':') {
          fail("unsupported group kind");
        }
      }
      const int lookahead = look == Op::Jump ? -1 : emit({look});
      alternation();
      if (!accept(')')) fail("missing ')'");
      if (lookahead >= 0) {
        emit({Op::Match});
        regex_.program_[lookahead].target = here();
      }
      if (peek() == '?' || peek() == '*' || peek() == '+' || peek() == '{') fail("quantified groups are not supported");
      return;
    }
    if (accept('$')) {
      emit({Op::End});
      return;
    }
    Instruction in{Op::Class, single_character()};
    quantifier(in);
    emit(in);
  }

  void quantifier(Instruction& in) {
    in.min = in.max = 1;
    if (accept('?')) {
      in.min = 0;
    } else if (accept('*')) {
      in.min = 0;
      in.max = kUnbounded;
    } else if (accept('+')) {
      in.max = kUnbounded;
    } else if (accept('{')) {
      in.min = in.max = number();
      if (accept(',')) in.max = peek() == '}' ? kUnbounded : number();
      if (!accept('}')) fail("missing '}'");
      if (in.max < in.min) fail("repetition range is reversed");
    } else {
      return;
    }
    if (peek() == '?' || peek() == '+') fail("lazy and possessive quantifiers are not supported");
  }

  size_t number() {
    size_t n = 0, digits = 0;
    for (; peek() >= '0' && peek() <= '9' && !at_end(); ++digits) n = n * 10 + (take() - '0');
    if (digits == 0 || digits > 6) fail("bad repetition count");
    return n;
  }

  // One position's worth of pattern: a literal, an escape, or a bracketed class.
  int single_character() {
    CharSet set;
    if (accept('[')) {
      set.negated = accept('^');
      bool first = true;
      while (first || peek() != ']') {
        first = false;
        const char32_t lo = class_member(set);
        if (lo == kNotALiteral) continue;
        char32_t hi = lo;
        if (peek() == '-' && pos_ + 1 < pattern_.size() && pattern_[pos_ + 1] != ']') {
          ++pos_;
          hi = class_member(set);
          if (hi == kNotALiteral || hi < lo) fail("bad range in class");
        }
        set.ranges.emplace_back(lo, hi);
      }
      take();  // ']'
    } else {
      const char32_t c = peek();
      if (c == '.' || c == '^' || c == '*' || c == '+' || c == '?' || c == '{') fail("unsupported syntax");
      const char32_t literal = class_member(set);
      if (literal != kNotALiteral) set.ranges.emplace_back(literal, literal);
    }
    regex_.sets_.push_back(std::move(set));
    return static_cast<int>(regex_.sets_.size()) - 1;
  }

  static constexpr char32_t kNotALiteral = 0xffffffff;

  // A literal code point, or a class escape added to `set` (returns kNotALiteral).
  char32_t class_member(CharSet& set) {
    const char32_t c = take();
    if (c != '\\') return c;
    const char32_t e = take();
    switch (e) {
      case 'r':
        return '\r';
      case 'n':
        return '\n';
      case 't':
        return '\t';
      case 'f':
        return '\f';
      case 'v':
        return '\v';
      case 's':
        set.white_space = true;
        return kNotALiteral;
      case 'S':
        set.not_white_space = true;
        return kNotALiteral;
      case 'p':
      case 'P': {
        const uint8_t bit = uint8_t{1} << static_cast<int>(category());
        set.class_mask |= e == 'p' ? bit : static_cast<uint8_t>(~bit & 0x7f);
        return kNotALiteral;
      }
      default:
        if ((e >= 'a' && e <= 'z') || (e >= 'A' && e <= 'Z') || (e >= '0' && e <= '9')) fail("unsupported escape");
        return e;
    }
  }

  unicode::CharClass category() {
    if (!accept('{')) fail("expected '{' after \\p");
    const char32_t name = take();
    if (!accept('}')) fail("only one-letter categories (\\p{L}, \\p{N}, ...) are supported");
    switch (name) {
      case 'L':
        return unicode::CharClass::Letter;
      case 'M':
        return unicode::CharClass::Mark;
      case 'N':
        return unicode::CharClass::Number;
      case 'P':
        return unicode::CharClass::Punctuation;
      case 'S':
        return unicode::CharClass::Symbol;
      case 'Z':
        return unicode::CharClass::Separator;
      case 'C':
        return unicode::CharClass::Other;
      default:
        fail("unknown category");
    }
  }

  Regex& regex_;
  std::vector<char32_t> pattern_;
  size_t pos_ = 0;
};

Regex::Regex(std::string_view pattern) : pattern_(pattern) {
  Parser(*this).compile();
}

Regex::Searcher::Searcher(const Regex& regex, std::span<const char32_t> text)
    : regex_(regex), text_(text), failed_continuations_(regex.program_.size()), scanned_runs_(regex.program_.size()) {}

std::optional<Regex::Match> Regex::Searcher::next(size_t from) {
  for (size_t start = from; start < text_.size(); ++start) {
    const int64_t end = run(0, start);
    if (end > static_cast<int64_t>(start)) return Match{start, static_cast<size_t>(end)};
  }
  return std::nullopt;
}

// How many characters of the class at `pc` follow `pos` (at most its max).
size_t Regex::Searcher::class_run(int pc, size_t pos) {
  const Instruction& in = regex_.program_[pc];
  const CharSet& set = regex_.sets_[in.set];
  Interval& scanned = scanned_runs_[pc];
  if (in.max == SIZE_MAX && pos >= scanned.lo && pos <= scanned.hi) return scanned.hi - pos;
  size_t n = 0;
  while (n < in.max && pos + n < text_.size() && set.contains(text_[pos + n])) ++n;
  if (in.max == SIZE_MAX) scanned = {pos, pos + n};
  return n;
}

// The end of a match of the program from `pc` at `pos`, or -1. Every
// recursion moves `pc` forward, so the depth is bounded by the program size.
int64_t Regex::Searcher::run(int pc, size_t pos) {
  for (;;) {
    const Instruction& in = regex_.program_[pc];
    switch (in.op) {
      case Op::Class: {
        const size_t available = class_run(pc, pos);
        if (available < in.min) return -1;
        // Greedy: longest first. Where the rest of the pattern is already
        // known to fail (from an earlier start in the same run), skip ahead.
        Interval& failed = failed_continuations_[pc];
        const size_t lowest = pos + in.min;
        const size_t highest = pos + available;
        for (size_t q = highest;;) {
          if (q >= failed.lo && q <= failed.hi) {
            if (failed.lo <= lowest) break;
            q = failed.lo - 1;
            continue;
          }
          if (const int64_t end = run(pc + 1, q); end >= 0) return end;
          if (q == lowest) break;
          --q;
        }
        if (failed.lo > failed.hi || highest + 1 < failed.lo || lowest > failed.hi + 1) {
          failed = {lowest, highest};
        } else {
          failed = {std::min(failed.lo, lowest), std::max(failed.hi, highest)};
        }
        return -1;
      }
      case Op::Split:
        if (const int64_t end = run(pc + 1, pos); end >= 0) return end;
        pc = in.target;
        break;
      case Op::Jump:
        pc = in.target;
        break;
      case Op::Lookahead:
      case Op::NegativeLookahead:
        if ((run(pc + 1, pos) >= 0) != (in.op == Op::Lookahead)) return -1;
        pc = in.target;
        break;
      case Op::End:
        if (pos != text_.size()) return -1;
        ++pc;
        break;
      case Op::Match:
        return static_cast<int64_t>(pos);
    }
  }
}

}  // namespace ullm
