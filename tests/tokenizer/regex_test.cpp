// The pre-tokenizer regular expressions: Perl semantics on code points.
#include "tokenizer/regex.hpp"

#include <gtest/gtest.h>

#include "tokenizer/unicode.hpp"
#include "ullm/error.hpp"

namespace ullm {
namespace {

// Every match of `pattern` in `text`, left to right, as UTF-8 strings.
std::vector<std::string> matches(std::string_view pattern, std::string_view text) {
  const Regex regex(pattern);
  const unicode::DecodedText decoded = unicode::decode_utf8(text);
  Regex::Searcher searcher(regex, decoded.code_points);
  std::vector<std::string> out;
  size_t from = 0;
  while (const auto m = searcher.next(from)) {
    const size_t begin = decoded.byte_offsets[m->begin];
    out.emplace_back(text.substr(begin, decoded.byte_offsets[m->end] - begin));
    from = m->end;
  }
  return out;
}

using Strings = std::vector<std::string>;

TEST(Regex, AlternativesAreTriedInOrderNotLongestFirst) {
  EXPECT_EQ(matches("a|ab", "ab ab"), (Strings{"a", "a"}));
  EXPECT_EQ(matches("ab|a", "ab ab"), (Strings{"ab", "ab"}));
}

TEST(Regex, GreedyQuantifiersBacktrack) {
  EXPECT_EQ(matches(R"(\s+(?!\S))", "a   b"), (Strings{"  "}));
  EXPECT_EQ(matches(R"(\s*[\r\n]+)", "a  \n\n b"), (Strings{"  \n\n"}));
  EXPECT_EQ(matches(R"( ?[^\s\p{L}\p{N}]+[\r\n]*)", "x !?\n\ny"), (Strings{" !?\n\n"}));
  EXPECT_EQ(matches("x*y", "xxxz xy y"), (Strings{"xy", "y"}));
}

TEST(Regex, CountedRepetition) {
  EXPECT_EQ(matches(R"(\p{N}{1,3})", "1234567"), (Strings{"123", "456", "7"}));
  EXPECT_EQ(matches("[0-9][0-9][0-9]", "12345678"), (Strings{"123", "456"}));
  EXPECT_EQ(matches("a{2}", "aaaaa"), (Strings{"aa", "aa"}));
  EXPECT_EQ(matches("a{2,}", "a aaaa"), (Strings{"aaaa"}));
}

TEST(Regex, UnicodeCategories) {
  EXPECT_EQ(matches(R"(\p{L}+)", "нещо на Български"), (Strings{"нещо", "на", "Български"}));
  EXPECT_EQ(matches(R"(\p{N})", "4 ½ ٣"), (Strings{"4", "½", "٣"}));  // Nd, No, Arabic-Indic Nd
  EXPECT_EQ(matches(R"(\p{P}+)", "a, (b)! $"), (Strings{",", "(", ")!"}));
  EXPECT_EQ(matches(R"(\P{L}+)", "ab12cd"), (Strings{"12"}));
  // Khmer vowel signs are marks, not letters: \p{L}+ stops at them.
  EXPECT_EQ(matches(R"(\p{L}+)", "\u1780\u17B6\u1793"), (Strings{"\u1780", "\u1793"}));
  // U+3000 and U+00A0 are white space; U+200B (a format character) is not.
  EXPECT_EQ(matches(R"(\s+)", "a\u3000\u00A0b\u200Bc"), (Strings{"\u3000\u00A0"}));
}

TEST(Regex, ClassesAndEscapes) {
  EXPECT_EQ(matches(R"([^\r\n\p{L}\p{N}]?\p{L}+)", " hi\nyo"), (Strings{" hi", "yo"}));
  EXPECT_EQ(matches(R"([\-\]\\]+)", "a-]\\b"), (Strings{"-]\\"}));
  EXPECT_EQ(matches("[a-c]+", "abcd"), (Strings{"abc"}));
  EXPECT_EQ(matches(R"((?:'[sS]|'[tT])|x)", "it'S x 't"), (Strings{"'S", "x", "'t"}));
  EXPECT_EQ(matches("[\u4e00-\u9fa5]+", "ab我想c在"), (Strings{"我想", "在"}));
}

TEST(Regex, LookaheadAndEnd) {
  EXPECT_EQ(matches(R"(a(?=b))", "ab ac ab"), (Strings{"a", "a"}));
  EXPECT_EQ(matches(R"(\s+$)", "a  b  "), (Strings{"  "}));
  EXPECT_EQ(matches(R"(\s+$)", "  ab"), Strings{});
}

TEST(Regex, InvalidBytesAreOrdinaryNonLetters) {
  EXPECT_EQ(matches(R"([^\s\p{L}\p{N}]+)", "a\xff\xfe b"), (Strings{"\xff\xfe"}));
}

TEST(Regex, LongRunsStayLinear) {
  // Each failed start inside the run would rescan it without the failure cache:
  // 200k spaces would then take ~2e10 steps.
  const std::string spaces(200000, ' ');
  EXPECT_EQ(matches(R"(\s+$)", spaces + "x"), Strings{});
  EXPECT_EQ(matches(R"(\s*[\r\n]+)", spaces + "x"), Strings{});
  EXPECT_EQ(matches(R"(\s+(?!\S))", spaces + "x").at(0).size(), spaces.size() - 1);
}

TEST(Regex, UnsupportedSyntaxIsAClearError) {
  for (const char* pattern :
       {"(ab)+", "a+?", "a*+", R"(\d)", "[a-", R"(\p{Lu})", ".", "(a", "a)", "a{3,1}", "(?<n>a)"}) {
    SCOPED_TRACE(pattern);
    try {
      Regex regex(pattern);
      FAIL() << "compiled";
    } catch (const InvalidArgument& e) {
      EXPECT_NE(std::string(e.what()).find(pattern), std::string::npos) << e.what();
    }
  }
}

}  // namespace
}  // namespace ullm
