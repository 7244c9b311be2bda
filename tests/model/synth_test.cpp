// The synthetic llama models against llama.cpp's full logits (F32 KV cache,
// no flash attention, as the references were made) and greedy paths.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "support/test_support.hpp"
#include "ullm/ullm.hpp"

namespace ullm {
namespace {

// A greedy step whose top two logits llama.cpp puts closer than this may
// take the other token in a quantized model: a different summation order
// flips an int8 rounding of an activation now and then, which moves logits
// by up to ~1 from there on (reference/synth/README.md; 83-100 % of greedy
// rows have a gap above 0.5). Float models must take llama.cpp's every time.
constexpr float kQuantizedNearTie = 0.5f;

struct SynthCase {
  std::string model;
  float max_tolerance;   // per logit, over every row
  float mean_tolerance;  // mean |diff| per prompt
  float near_tie;        // see kQuantizedNearTie
  friend void PrintTo(const SynthCase& c, std::ostream* os) { *os << c.model; }
};

class SynthLogitsTest : public ::testing::TestWithParam<SynthCase> {};

TEST_P(SynthLogitsTest, TeacherForcedLogitsMatch) {
  const SynthCase& param = GetParam();
  const Model model = Model::load(test::shared_path("models/synth/" + param.model + ".gguf"));
  for (int prompt = 0; prompt < 3; ++prompt) {
    const std::string base = "reference/synth/" + param.model + "." + std::to_string(prompt);
    const auto ref = test::load_json(test::shared_path(base + ".json"));
    const auto expected = test::load_f32(test::shared_path(base + ".logits.f32"));
    SCOPED_TRACE(base);
    const auto prompt_ids = ref["prompt_ids"].get<std::vector<Token>>();
    const auto generated = ref["generated_ids"].get<std::vector<Token>>();
    ASSERT_EQ(model.tokenizer().encode(ref["prompt"].get<std::string>(), {.add_special = true, .parse_special = false}),
              prompt_ids);

    // Rows: the prompt in one batch, then each generated token but the last.
    std::vector<Token> inputs = prompt_ids;
    inputs.insert(inputs.end(), generated.begin(), generated.end() - 1);
    const int64_t n_vocab = model.config().n_vocab;
    ASSERT_EQ(expected.size(), inputs.size() * static_cast<size_t>(n_vocab));
    Session session(model, {.kv_type = KvType::F32});
    std::vector<float> logits;
    const auto prompt_rows = session.eval_all(prompt_ids);
    logits.assign(prompt_rows.begin(), prompt_rows.end());
    for (size_t i = prompt_ids.size(); i < inputs.size(); ++i) {
      const auto row = session.eval(std::span<const Token>(&inputs[i], 1));
      logits.insert(logits.end(), row.begin(), row.end());
    }
    double sum = 0;
    float max = 0;
    for (size_t i = 0; i < expected.size(); ++i) {
      const float d = std::fabs(logits[i] - expected[i]);
      sum += d;
      max = std::max(max, d);
    }
    EXPECT_LT(max, param.max_tolerance);
    EXPECT_LT(sum / static_cast<double>(expected.size()), param.mean_tolerance);
    // The greedy choice at every generated step, or a near tie.
    const auto gaps = ref["row_top2_gap"].get<std::vector<float>>();
    for (size_t step = 0; step < generated.size(); ++step) {
      const size_t r = prompt_ids.size() - 1 + step;
      const float* row = &logits[r * n_vocab];
      if (std::max_element(row, row + n_vocab) - row != generated[step]) {
        EXPECT_LT(gaps.at(r), param.near_tie)
            << "another token at step " << step << ", where llama.cpp's top-2 gap is " << gaps.at(r);
      }
    }
  }
}

// Tolerances from reference/synth/README.md: an exact F32 implementation
// lands within 3e-4; quantized models agree to ~1e-5 until an int8 rounding
// flips (an exact float64 pass differs from llama.cpp by up to 2.7 there).
std::vector<SynthCase> synth_cases() {
  std::vector<SynthCase> cases;
  for (const std::string arch : {"llama", "qwen2", "qwen3", "phi3", "gemma3"}) {
    // gemma3's GELU goes through an f16 table in ggml; an exact float64
    // pass with that table still lands 0.018 away (README); ullm measures
    // 0.017 (mean 2.6e-4).
    cases.push_back({arch + "-f32", arch == "gemma3" ? 0.05f : 1e-3f, arch == "gemma3" ? 1e-3f : 1e-4f, 0.0f});
    cases.push_back({arch + "-q8_0", 3.0f, 0.3f, kQuantizedNearTie});
    cases.push_back({arch + "-q4_0", 3.0f, 0.3f, kQuantizedNearTie});
  }
  return cases;
}

INSTANTIATE_TEST_SUITE_P(Architectures, SynthLogitsTest, ::testing::ValuesIn(synth_cases()), [](const auto& info) {
  std::string name = info.param.model;
  std::replace(name.begin(), name.end(), '-', '_');
  return name;
});

// With llama.cpp's default F16 cache and flash attention, greedy paths agree
// (a quantized model's to its first near tie, where they may part).
class SynthGreedyTest : public ::testing::TestWithParam<std::string> {};

TEST_P(SynthGreedyTest, F16CacheMatchesLlamaCppDefaults) {
  const std::string arch = GetParam();
  for (const std::string type : {"f32", "q8_0", "q4_0"}) {
    const Model model = Model::load(test::shared_path("models/synth/" + arch + "-" + type + ".gguf"));
    for (int prompt = 0; prompt < 3; ++prompt) {
      const auto ref = test::load_json(
          test::shared_path("reference/synth/" + arch + "-" + type + "." + std::to_string(prompt) + ".kv-f16-fa.json"));
      SCOPED_TRACE(type + " prompt " + std::to_string(prompt));
      Session session(model);
      const auto prompt_ids = ref["prompt_ids"].get<std::vector<Token>>();
      const auto expected = ref["generated_ids"].get<std::vector<Token>>();
      const auto gaps = ref["row_top2_gap"].get<std::vector<float>>();
      auto logits = session.eval(prompt_ids);
      for (size_t step = 0; step < expected.size(); ++step) {
        const Token got = static_cast<Token>(std::max_element(logits.begin(), logits.end()) - logits.begin());
        if (got != expected[step]) {
          const float gap = gaps.at(prompt_ids.size() - 1 + step);
          EXPECT_LT(gap, type == "f32" ? 0.0f : kQuantizedNearTie)
              << "parted at step " << step << " (got " << got << ", llama.cpp " << expected[step]
              << "), where llama.cpp's top-2 gap is " << gap;
          break;
        }
        if (step + 1 < expected.size()) logits = session.eval(std::span<const Token>(&expected[step], 1));
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Architectures, SynthGreedyTest,
                         ::testing::Values("llama", "qwen2", "qwen3", "phi3", "gemma3"));

TEST(SynthModels, OtherArchitecturesAreReportedUnsupported) {
  for (const std::string arch : {"qwen3moe", "deepseek2"}) {
    try {
      Model::load(test::shared_path("models/synth/" + arch + "-f32.gguf"));
      ADD_FAILURE() << arch << " loaded";
    } catch (const UnsupportedError& e) {
      EXPECT_NE(std::string(e.what()).find("architecture '" + arch + "'"), std::string::npos) << e.what();
    }
  }
}

}  // namespace
}  // namespace ullm
