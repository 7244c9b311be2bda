// Inputs on which llama.cpp's tokenizer rules go beyond the Hugging Face
// tokenizers' test vectors: stray and non-shortest UTF-8, non-ASCII
// whitespace in pre-tokenizer expressions, tokens llama.cpp makes control
// tokens by their text, and code points of recent Unicode versions. The ids
// are llama.cpp's own (llama_tokenize, no BOS; libllama of node-llama-cpp
// 3.22.1's Linux x64 build), recorded from a differential run of random texts
// over every vocabulary in ../shared/reference/tokenizer (docs/design.md,
// Tokenizers).
#include <gtest/gtest.h>

#include "support/test_support.hpp"
#include "ullm/ullm.hpp"

namespace ullm {
namespace {

const Tokenizer& vocab(const std::string& name) {
  return test::reference_vocab(name);
}

struct Case {
  const char* vocab;
  bool parse_special;
  std::string_view text;
  std::vector<Token> ids;
};

const Case kCases[] = {
    // U+3000 is \s only: not in the literal range \u3000-\u3002
    {"deepseek-llm", false, "but     \xe3\x80\x80 \xcb\x88", {2381, 663, 88946, 207, 31299}},
    {"deepseek-llm", false, "    \xe3\x80\x80\xc3\xbc two", {251, 88946, 100014, 984}},
    // nor in the CJK range \u0800-\u4e00
    {"deepseek-llm",
     false,
     "\xe4\xb8\xad\xe3\x80\x80\xe6\x96\x87\xe2\x80\x83x\xe2\x81\x9fy",
     {764, 88946, 1930, 51570, 87, 47737, 240, 88}},
    // an overlong '/' decodes, as in llama.cpp
    {"gpt-2", false, "x\xc0\xafy", {87, 14, 88}},
    {"gpt-2", false, "a \xe0\x80\xb9 b", {64, 860, 275}},
    // a surrogate is one code point
    {"qwen2",
     false,
     "a\xed\xa0\x80"
     "bc",
     {64, 169, 63219, 8904}},
    // and a truncated sequence a U+FFFD per byte
    {"llama-bpe",
     false,
     " \xed\xa0\x80"
     "abc \xf0\x9f\x98",
     {10997, 64319, 13997, 220, 58432}},
    {"gpt-2", false, "\xf8\x88\x80\x80\x80 z\xff", {12100, 4210, 1976, 4210}},
    // SentencePiece takes the lead byte's length
    {"llama-spm", false, " tokens\xffUse", {29871, 18897, 258, 88, 118, 104}},
    {"llama-spm", false, "ab\xfesome \xc3", {633, 257, 118, 114, 112, 29872, 29871, 198}},
    {"phi-3",
     false,
     "x\xf0"
     "ab\xe2\x82",
     {921, 243, 100, 101, 229, 133}},
    // Phi-3's user-defined </s> is control-looking: text without special parsing
    {"phi-3", false, "done</s> next", {2309, 829, 29879, 29958, 2446}},
    // and a token that strips the space after it with it
    {"phi-3", true, "done</s> next", {2309, 2, 2446}},
    // Qwen2's normal </s> becomes a control token
    {"qwen2", true, "a</s>b<|im_end|>", {64, 128247, 65, 151645}},
    {"qwen2", false, "a</s>b", {64, 522, 82, 51407}},
    // letters added in Unicode 15.0 and 15.1
    {"gpt-2",
     false,
     "x\xf0\xae\xb8\xbe't x\xf0\xab\x9c\xb9's",
     {87, 172, 106, 116, 122, 470, 2124, 172, 104, 250, 117, 338}},
    // Kawi digits (15.0)
    {"llama-bpe",
     false,
     "n\xf0\x91\xbd\x90\xf0\x91\xbd\x91\xf0\x91\xbd\x92\xf0\x91\xbd\x93 \xf0\xb1\x8d\x90's",
     {77, 172, 239, 121, 238, 172, 239, 121, 239, 172, 239, 121, 240, 172, 239, 121, 241, 109697, 109, 235, 238, 596}},
    // but not 16.0's
    {"llama-bpe", false, "x\xf0\x90\x97\x80's", {87, 172, 238, 245, 222, 6, 82}},
};

TEST(LlamaCppAgreement, EdgeCaseTexts) {
  for (const Case& c : kCases) {
    SCOPED_TRACE(testing::Message() << c.vocab << (c.parse_special ? " (special)" : "") << ": \"" << c.text << '"');
    EXPECT_EQ(vocab(c.vocab).encode(c.text, {.add_special = false, .parse_special = c.parse_special}), c.ids);
  }
}

TEST(LlamaCppAgreement, ControlLookingTokensEndGenerationAndHide) {
  const Tokenizer& qwen = vocab("qwen2");
  const Token qwen_s = 128247;  // "</s>", a normal token in the file
  EXPECT_TRUE(qwen.is_control(qwen_s));
  EXPECT_TRUE(qwen.is_end_of_generation(qwen_s));
  EXPECT_EQ(qwen.piece(qwen_s), "");
  EXPECT_TRUE(qwen.is_end_of_generation(151662));   // <|fim_pad|>
  EXPECT_FALSE(qwen.is_end_of_generation(151659));  // <|fim_prefix|>
  const Tokenizer& phi3 = vocab("phi-3");
  EXPECT_TRUE(phi3.is_control(2));  // "</s>", user-defined in the file
  EXPECT_TRUE(phi3.is_end_of_generation(2));
  EXPECT_FALSE(phi3.is_end_of_generation(32001));  // <|assistant|>
}

TEST(LlamaCppAgreement, UnknownAndFillInTheMiddleTokensRenderAsControl) {
  const Tokenizer& spm = vocab("llama-spm");
  EXPECT_EQ(spm.piece(0), "");  // <unk>
  EXPECT_EQ(spm.piece(0, true), "<unk>");
  EXPECT_EQ(vocab("phi-3").piece(32011), "");  // [PAD32011], typed unknown
  const Tokenizer& coder = vocab("deepseek-coder");
  for (Token fim : {32015, 32016, 32017}) {  // <｜fim▁hole｜>, <｜fim▁begin｜>, <｜fim▁end｜>
    EXPECT_TRUE(coder.is_control(fim));
    EXPECT_EQ(coder.piece(fim), "");
    EXPECT_FALSE(coder.is_end_of_generation(fim));
  }
}

}  // namespace
}  // namespace ullm
