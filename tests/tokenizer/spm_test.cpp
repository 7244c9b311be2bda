// SentencePiece-style tokenization against llama.cpp's outputs.
#include <gtest/gtest.h>

#include "support/test_support.hpp"
#include "ullm/ullm.hpp"

namespace ullm {
namespace {

class StoriesTokenizerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    file_ = std::make_unique<gguf::File>(gguf::File::open(test::shared_path("models/stories260K-f32.gguf")));
    tokenizer_ = std::make_unique<Tokenizer>(Tokenizer::from_gguf(*file_));
  }
  static void TearDownTestSuite() {
    tokenizer_.reset();
    file_.reset();
  }
  static std::unique_ptr<gguf::File> file_;
  static std::unique_ptr<Tokenizer> tokenizer_;
};
std::unique_ptr<gguf::File> StoriesTokenizerTest::file_;
std::unique_ptr<Tokenizer> StoriesTokenizerTest::tokenizer_;

TEST_F(StoriesTokenizerTest, MatchesLlamaTokenize) {
  const auto cases = test::load_json(test::shared_path("reference/tokenization/stories260K-tokenize.json"));
  ASSERT_GE(cases.size(), 10u);
  for (const auto& c : cases) {
    const std::string text = c["text"];
    SCOPED_TRACE("text: '" + text + "'");
    EXPECT_EQ(tokenizer_->encode(text), c["ids"].get<std::vector<Token>>());
    EXPECT_EQ(tokenizer_->encode(text, {.add_special = false}), c["ids_no_bos"].get<std::vector<Token>>());
    EXPECT_EQ(tokenizer_->encode(text, {.add_special = true, .parse_special = false}),
              c["ids_no_parse_special"].get<std::vector<Token>>());
    const auto ids = tokenizer_->encode(text);
    const auto pieces = c["pieces"].get<std::vector<std::string>>();
    ASSERT_EQ(ids.size(), pieces.size());
    for (size_t i = 0; i < ids.size(); ++i) EXPECT_EQ(tokenizer_->token_text(ids[i]), pieces[i]);
  }
}

TEST_F(StoriesTokenizerTest, DecodeInvertsEncode) {
  const auto cases = test::load_json(test::shared_path("reference/tokenization/stories260K-tokenize.json"));
  for (const auto& c : cases) {
    const std::string text = c["text"];
    SCOPED_TRACE("text: '" + text + "'");
    EXPECT_EQ(tokenizer_->decode(tokenizer_->encode(text, {.add_special = true, .parse_special = false})), text);
  }
  for (std::string text : {"x", "  two", "tabs\tand\nnewlines\n", "\xF0\x9F\x90\xB6 dog", "end "}) {
    EXPECT_EQ(tokenizer_->decode(tokenizer_->encode(text)), text);
  }
}

TEST_F(StoriesTokenizerTest, SpecialTokens) {
  EXPECT_EQ(tokenizer_->bos(), 1);
  EXPECT_EQ(tokenizer_->eos(), 2);
  EXPECT_TRUE(tokenizer_->adds_bos());
  EXPECT_TRUE(tokenizer_->is_end_of_generation(2));
  EXPECT_FALSE(tokenizer_->is_end_of_generation(1));
  EXPECT_EQ(tokenizer_->piece(2), "");
  EXPECT_EQ(tokenizer_->piece(2, true), "</s>");
  EXPECT_EQ(tokenizer_->piece(13), "\n");  // <0x0A>
  EXPECT_THROW(tokenizer_->piece(512), InvalidArgument);
  EXPECT_THROW(tokenizer_->piece(-1), InvalidArgument);
}

TEST_F(StoriesTokenizerTest, StreamingDecoderNeverSplitsCharacters) {
  // "🐶" is four byte-fallback tokens; nothing may come out until the last.
  const auto ids = tokenizer_->encode("\xF0\x9F\x90\xB6!", {.add_special = false});
  StreamingDecoder decoder(*tokenizer_);
  std::string out;
  std::vector<std::string> chunks;
  for (Token t : ids) {
    chunks.push_back(decoder.push(t));
    out += chunks.back();
  }
  out += decoder.finish();
  EXPECT_EQ(out, " \xF0\x9F\x90\xB6!");
  for (const auto& chunk : chunks) {
    // every chunk is valid UTF-8 on its own: no chunk ends mid-character
    size_t i = 0;
    while (i < chunk.size()) {
      const auto c = static_cast<unsigned char>(chunk[i]);
      const size_t len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : 4;
      ASSERT_LE(i + len, chunk.size()) << "chunk splits a character";
      i += len;
    }
  }
}

// llama.cpp (and Phi-3's own tokenizer) drop the whitespace after Phi-3's
// special tokens; ids as llama.cpp gives them for this prompt.
TEST(SpmTokenizer, Phi3SpecialTokensSwallowFollowingWhitespace) {
  const auto file = gguf::File::open(test::shared_path("reference/tokenizer/ggml-vocab-phi-3.gguf"));
  const Tokenizer phi3 = Tokenizer::from_gguf(file);
  EXPECT_EQ(phi3.encode("<|user|>\nSYS\nHI<|end|>\n<|assistant|>\n"),
            (std::vector<Token>{1, 32010, 317, 21554, 13, 17628, 32007, 32001}));
  // Other vocabularies keep it: the newline after <s> stays.
  const auto llama_file = gguf::File::open(test::shared_path("reference/tokenizer/ggml-vocab-llama-spm.gguf"));
  const Tokenizer llama = Tokenizer::from_gguf(llama_file);
  EXPECT_EQ(llama.encode("</s>\nHi", {.add_special = false}).size(), 4u);  // </s>, "▁", "<0x0A>", "Hi"
}

TEST(TokenizerErrors, UnknownModelIsUnsupported) {
  gguf::Writer w;
  w.set("tokenizer.ggml.model", {gguf::Value::Storage(std::in_place_type<std::string>, "klingon")});
  const auto path = test::temp_file("klingon.gguf");
  w.write(path);
  const auto file = gguf::File::open(path);
  try {
    Tokenizer::from_gguf(file);
    FAIL() << "expected UnsupportedError";
  } catch (const UnsupportedError& e) {
    EXPECT_NE(std::string(e.what()).find("klingon"), std::string::npos);
  }
}

}  // namespace
}  // namespace ullm
