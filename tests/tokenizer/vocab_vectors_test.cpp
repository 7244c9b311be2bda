// Every vocabulary in ../shared/reference/tokenizer with llama.cpp's test
// vectors (made from the Hugging Face tokenizers) against ullm's tokenizer.
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <sstream>

#include "support/test_support.hpp"
#include "ullm/ullm.hpp"

namespace ullm {
namespace {

struct Vector {
  std::string input;
  std::vector<Token> ids;
};

// Inputs are separated by a marker line; one line of ids (no BOS) per input.
std::vector<Vector> load_vectors(const std::string& name) {
  std::ifstream inp(test::shared_path("reference/tokenizer/" + name + ".gguf.inp"), std::ios::binary);
  std::ifstream out(test::shared_path("reference/tokenizer/" + name + ".gguf.out"), std::ios::binary);
  std::stringstream all;
  all << inp.rdbuf();
  const std::string text = all.str();
  const std::string marker = "\n__ggml_vocab_test__\n";
  std::vector<Vector> vectors;
  std::string line;
  for (size_t start = 0, hit; (hit = text.find(marker, start)) != std::string::npos; start = hit + marker.size()) {
    Vector v{text.substr(start, hit - start), {}};
    if (!std::getline(out, line)) throw std::runtime_error(name + ": fewer outputs than inputs");
    std::istringstream ids(line);
    for (Token id; ids >> id;) v.ids.push_back(id);
    vectors.push_back(std::move(v));
  }
  return vectors;
}

class VocabVectors : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    file_.emplace(gguf::File::open(test::shared_path("reference/tokenizer/" + GetParam() + ".gguf")));
    tokenizer_.emplace(Tokenizer::from_gguf(*file_));
    vectors_ = load_vectors(GetParam());
    ASSERT_GT(vectors_.size(), 40u);
  }
  std::optional<gguf::File> file_;
  std::optional<Tokenizer> tokenizer_;
  std::vector<Vector> vectors_;
};

TEST_P(VocabVectors, EncodeMatchesHuggingFace) {
  for (const Vector& v : vectors_) {
    EXPECT_EQ(tokenizer_->encode(v.input, {.add_special = false, .parse_special = false}), v.ids)
        << "input: '" << v.input << "'";
  }
}

TEST_P(VocabVectors, DecodeGivesBackTheInput) {
  for (const Vector& v : vectors_) EXPECT_EQ(tokenizer_->decode(v.ids), v.input);
}

INSTANTIATE_TEST_SUITE_P(Tokenizer, VocabVectors,
                         ::testing::Values("ggml-vocab-llama-spm", "ggml-vocab-phi-3", "ggml-vocab-gpt-2",
                                           "ggml-vocab-llama-bpe", "ggml-vocab-qwen2", "ggml-vocab-falcon",
                                           "ggml-vocab-deepseek-llm", "ggml-vocab-deepseek-coder",
                                           "ggml-vocab-starcoder", "ggml-vocab-refact", "ggml-vocab-mpt"),
                         [](const auto& info) {
                           std::string name = info.param.substr(std::string("ggml-vocab-").size());
                           std::replace(name.begin(), name.end(), '-', '_');
                           return name;
                         });

}  // namespace
}  // namespace ullm
