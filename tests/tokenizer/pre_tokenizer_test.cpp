#include "tokenizer/pre_tokenizer.hpp"

#include <gtest/gtest.h>

#include <random>

#include "ullm/error.hpp"

namespace ullm {
namespace {

using Words = std::vector<std::string_view>;

TEST(PreTokenizer, Gpt2KeepsOneSpaceWithTheNextWord) {
  const auto pre = PreTokenizer::named("gpt-2");
  EXPECT_EQ(pre.split("Hello world  !"), (Words{"Hello", " world", " ", " !"}));
  EXPECT_EQ(pre.split("I'll   go\n"), (Words{"I", "'ll", "  ", " go", "\n"}));
}

TEST(PreTokenizer, DigitGrouping) {
  EXPECT_EQ(PreTokenizer::named("llama-bpe").split("1234567"), (Words{"123", "456", "7"}));
  EXPECT_EQ(PreTokenizer::named("qwen2").split("123"), (Words{"1", "2", "3"}));
  EXPECT_EQ(PreTokenizer::named("smollm").split("x 42"), (Words{"x", " ", "4", "2"}));
}

TEST(PreTokenizer, Llama3CaseInsensitiveContractionsAndNewlines) {
  const auto pre = PreTokenizer::named("llama-bpe");
  EXPECT_EQ(pre.split("WE'RE\n\n  ok"), (Words{"WE", "'RE", "\n\n", " ", " ok"}));
  EXPECT_TRUE(pre.ignore_merges());
  EXPECT_TRUE(pre.adds_bos_by_default());
  EXPECT_FALSE(PreTokenizer::named("qwen2").adds_bos_by_default());
}

TEST(PreTokenizer, EmptyNameIsDefault) {
  EXPECT_EQ(PreTokenizer::named("").name(), "default");
}

TEST(PreTokenizer, EveryKnownNameCompilesAndCoversItsInput) {
  std::mt19937 rng(7);
  const std::string alphabet[] = {"a",   "Z", " ", "  ", "\n", "\r\n",   "\t",     "7",    "'s",       "'T", "!",
                                  "...", "é", "ж", "我", "😀",  "\u200d", "\u3000", "\xff", "\xe2\x82", "$",  "`"};
  for (std::string_view name : PreTokenizer::known_names()) {
    SCOPED_TRACE(std::string(name));
    const auto pre = PreTokenizer::named(name);
    for (int trial = 0; trial < 20; ++trial) {
      std::string text;
      for (int i = 0; i < 30; ++i) text += alphabet[rng() % std::size(alphabet)];
      std::string joined;
      for (std::string_view word : pre.split(text)) {
        EXPECT_FALSE(word.empty());
        joined += word;
      }
      EXPECT_EQ(joined, text);
    }
  }
}

TEST(PreTokenizer, UnknownNameIsUnsupported) {
  try {
    PreTokenizer::named("klingon-bpe");
    FAIL();
  } catch (const UnsupportedError& e) {
    EXPECT_NE(std::string(e.what()).find("klingon-bpe"), std::string::npos);
  }
}

}  // namespace
}  // namespace ullm
