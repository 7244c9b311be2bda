// Byte-level BPE: the Qwen2, Llama 3 and SmolLM vocabularies, ids recorded
// from their Hugging Face tokenizers (../shared/reference/tokenizer/README.md).
#include <gtest/gtest.h>

#include "support/test_support.hpp"
#include "ullm/ullm.hpp"

namespace ullm {
namespace {

const Tokenizer& vocab(const std::string& name) {
  return test::reference_vocab(name);
}

using Ids = std::vector<Token>;
constexpr EncodeOptions kPlain{.add_special = false, .parse_special = false};

TEST(BpeTokenizer, Llama3) {
  const Tokenizer& t = vocab("llama-bpe");
  EXPECT_EQ(t.encode("Hello", kPlain), (Ids{9906}));
  EXPECT_TRUE(t.adds_bos());
  EXPECT_EQ(t.encode("Hello"), (Ids{128000, 9906}));
  EXPECT_EQ(t.encode("<|begin_of_text|>This is a test sentence.<|end_of_text|>", {.add_special = false}),
            (Ids{128000, 2028, 374, 264, 1296, 11914, 13, 128001}));
  // Without special parsing the markers are ordinary text.
  EXPECT_GT(t.encode("<|eot_id|>", kPlain).size(), 1u);
  EXPECT_TRUE(t.is_end_of_generation(128009));  // <|eot_id|>
  EXPECT_TRUE(t.is_end_of_generation(128008));  // <|eom_id|>, found by its text
  EXPECT_FALSE(t.is_end_of_generation(128006));
  EXPECT_EQ(t.piece(128006), "");
  EXPECT_EQ(t.piece(128006, true), "<|start_header_id|>");
}

TEST(BpeTokenizer, Qwen2) {
  const Tokenizer& t = vocab("qwen2");
  EXPECT_FALSE(t.adds_bos());
  EXPECT_EQ(t.encode("Hello"), (Ids{9707}));
  EXPECT_EQ(t.encode("<|im_start|>user"), (Ids{151644, 872}));
  // A user-defined token is matched as a whole even without special parsing.
  EXPECT_EQ(t.encode("<tool_call>", kPlain), (Ids{151657}));
  EXPECT_EQ(t.piece(151657), "<tool_call>");
  EXPECT_EQ(t.eos(), 151645);
  EXPECT_TRUE(t.is_end_of_generation(151645));
  EXPECT_TRUE(t.is_end_of_generation(151643));  // <|endoftext|>
  EXPECT_EQ(t.piece(9707), "Hello");
  EXPECT_EQ(t.piece(220), " ");  // "Ġ"
}

TEST(BpeTokenizer, SmolLM2) {
  const Tokenizer& t = vocab("smollm");
  EXPECT_FALSE(t.adds_bos());
  EXPECT_EQ(t.encode("Hello"), (Ids{19556}));
  EXPECT_EQ(t.encode("The capital of France is"), (Ids{504, 3575, 282, 4649, 314}));
  EXPECT_EQ(t.encode("def fibonacci(n):"), (Ids{1604, 3987, 46477, 24, 94, 727}));
  EXPECT_EQ(t.encode("<|im_end|>\n"), (Ids{2, 198}));
  EXPECT_EQ(t.bos(), 1);
  EXPECT_EQ(t.eos(), 2);
}

TEST(BpeTokenizer, DecodeRoundTripsAnyBytes) {
  const std::string texts[] = {"plain words", "  leading and trailing  ", "tabs\tnew\nlines\r\n",
                               "emoji 🦙🚀 and 中文 and ж", std::string("x\0y", 3)};
  for (const char* name : {"qwen2", "llama-bpe", "smollm", "gpt-2", "gpt-neox"}) {
    const Tokenizer& t = vocab(name);
    for (const std::string& text : texts) {
      SCOPED_TRACE(std::string(name) + ": " + text);
      EXPECT_EQ(t.decode(t.encode(text, kPlain)), text);
    }
  }
}

TEST(BpeTokenizer, InvalidUtf8BecomesReplacementCharacters) {
  const Tokenizer& t = vocab("qwen2");
  EXPECT_EQ(t.decode(t.encode("a\xff\xfe b\xe2\x82", kPlain)), "a\uFFFD\uFFFD b\uFFFD\uFFFD");
}

TEST(BpeTokenizer, StreamingNeverSplitsACharacter) {
  const Tokenizer& t = vocab("qwen2");
  const std::string text = "a\U0001D518\U0001F9A5z";  // rare characters: written as several byte tokens
  const Ids ids = t.encode(text, kPlain);
  ASSERT_GT(ids.size(), 4u);
  StreamingDecoder decoder(t);
  std::string out;
  for (Token id : ids) {
    const std::string chunk = decoder.push(id);
    for (unsigned char c : chunk.empty() ? std::string("a") : chunk.substr(chunk.size() - 1)) {
      EXPECT_TRUE(c < 0x80 || (c & 0xc0) == 0x80) << "chunk ends inside a character";
    }
    out += chunk;
  }
  out += decoder.finish();
  EXPECT_EQ(out, text);
}

TEST(BpeTokenizer, VocabulariesWithoutVectorsLoad) {
  // gpt-neox names no pre-tokenizer (llama.cpp's "default"); baichuan is SentencePiece.
  EXPECT_EQ(vocab("gpt-neox").model_name(), "gpt2");
  EXPECT_EQ(vocab("baichuan").model_name(), "llama");
  for (const char* name : {"gpt-neox", "baichuan"}) {
    const Tokenizer& t = vocab(name);
    const std::string text = "Hello world, 1234 — ünïcode!";
    EXPECT_EQ(t.decode(t.encode(text)), text) << name;
  }
}

// A vocabulary file with the given tokenizer keys; tokens "a", "b", "ab".
std::filesystem::path write_vocab(const std::string& name, const std::string& pre, std::vector<std::string> merges,
                                  bool with_merges = true) {
  using gguf::Value;
  auto str = [](std::string s) { return Value{Value::Storage(std::in_place_type<std::string>, std::move(s))}; };
  auto strings = [&](const std::vector<std::string>& items) {
    gguf::Array a;
    a.element_type = gguf::ValueType::String;
    for (const auto& s : items) a.items.push_back(str(s));
    return Value{Value::Storage(std::in_place_type<gguf::Array>, std::move(a))};
  };
  gguf::Writer w;
  w.set("tokenizer.ggml.model", str("gpt2"));
  if (!pre.empty()) w.set("tokenizer.ggml.pre", str(pre));
  w.set("tokenizer.ggml.tokens", strings({"a", "b", "ab"}));
  if (with_merges) w.set("tokenizer.ggml.merges", strings(merges));
  const auto path = test::temp_file(name);
  w.write(path);
  return path;
}

TEST(BpeTokenizer, MergesByRank) {
  const auto file = gguf::File::open(write_vocab("tiny.gguf", "gpt-2", {"a b"}));
  const Tokenizer t = Tokenizer::from_gguf(file);
  EXPECT_EQ(t.encode("abba"), (Ids{2, 1, 0}));  // "ab" merged, then "b" "a"
  EXPECT_EQ(t.bos(), -1);
  EXPECT_FALSE(t.adds_bos());
}

TEST(BpeTokenizer, BadVocabulariesAreClearErrors) {
  auto expect_error = [](const std::filesystem::path& path, const std::string& needle, bool unsupported) {
    const auto file = gguf::File::open(path);
    try {
      Tokenizer::from_gguf(file);
      FAIL() << "loaded " << path;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
      EXPECT_EQ(dynamic_cast<const UnsupportedError*>(&e) != nullptr, unsupported) << e.what();
    }
  };
  expect_error(write_vocab("nomerges.gguf", "gpt-2", {}, false), "tokenizer.ggml.merges", false);
  expect_error(write_vocab("badmerge.gguf", "gpt-2", {"ab"}), "'ab'", false);
  expect_error(write_vocab("badpre.gguf", "klingon-bpe", {"a b"}), "klingon-bpe", true);
  expect_error(test::shared_path("reference/tokenizer/ggml-vocab-bert-bge.gguf"), "bert", true);
}

}  // namespace
}  // namespace ullm
