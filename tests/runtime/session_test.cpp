// Session semantics: context limits, rewinding, sharing one Model.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <thread>

#include "support/test_support.hpp"
#include "ullm/ullm.hpp"

namespace ullm {
namespace {

class SessionTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    model_ = std::make_unique<Model>(Model::load(test::shared_path("models/stories260K-q8_0.gguf")));
  }
  static void TearDownTestSuite() { model_.reset(); }
  static std::unique_ptr<Model> model_;
};
std::unique_ptr<Model> SessionTest::model_;

TEST_F(SessionTest, ConfigComesFromMetadata) {
  const ModelConfig& c = model_->config();
  EXPECT_EQ(c.architecture, "llama");
  EXPECT_EQ(c.n_embd, 64);
  EXPECT_EQ(c.n_layer, 5);
  EXPECT_EQ(c.n_head, 8);
  EXPECT_EQ(c.n_head_kv, 4);
  EXPECT_EQ(c.n_ff, 172);
  EXPECT_EQ(c.n_vocab, 512);
  EXPECT_EQ(c.context_length, 128);
  EXPECT_FALSE(c.tied_embeddings);
}

TEST_F(SessionTest, ContextOverflowIsAnErrorAndLeavesTheSessionUsable) {
  Session s(*model_, {.context_length = 8});
  const std::vector<Token> six{1, 403, 407, 261, 378, 432};
  s.eval(six);
  EXPECT_THROW(s.eval(six), ContextOverflow);
  EXPECT_EQ(s.position(), 6);
  const Token t = 383;
  EXPECT_NO_THROW(s.eval(std::span<const Token>(&t, 1)));
  EXPECT_THROW(Session(*model_, {.context_length = 129}), InvalidArgument);
  EXPECT_THROW(Session(*model_, {.threads = -1}), InvalidArgument);
}

// Past the trained context only when asked; the trained positions compute as
// in any session, the later ones give finite logits.
TEST_F(SessionTest, BeyondTrainedContextOnlyWhenAsked) {
  Session normal(*model_, {.context_length = 128});
  Session longer(*model_, {.context_length = 200, .beyond_trained_context = true});
  EXPECT_EQ(longer.context_length(), 200);
  std::vector<Token> prompt(128);
  for (size_t i = 0; i < prompt.size(); ++i) prompt[i] = static_cast<Token>((i * 37 + 1) % 512);
  const auto expected = normal.eval_all(prompt);
  const std::vector<float> want(expected.begin(), expected.end());
  const auto got = longer.eval_all(prompt);
  EXPECT_TRUE(std::ranges::equal(got, want));
  const std::vector<Token> more(72, 300);
  for (float v : longer.eval(more)) ASSERT_TRUE(std::isfinite(v));
  EXPECT_EQ(longer.position(), 200);
  EXPECT_THROW(longer.eval(std::span<const Token>(prompt.data(), 1)), ContextOverflow);
}

// A prompt longer than kMaxBatchTokens runs as passes of at most that many,
// as llama.cpp's micro-batches: the same logits as giving the passes one by
// one, every row for eval_all and the last for eval.
TEST_F(SessionTest, LongPromptsRunInPassesOfAtMost512Tokens) {
  std::vector<Token> prompt(600);
  for (size_t i = 0; i < prompt.size(); ++i) prompt[i] = static_cast<Token>((i * 53 + 7) % 512);
  const SessionOptions options{.context_length = 700, .beyond_trained_context = true};
  Session whole(*model_, options), passes(*model_, options), last_only(*model_, options);
  const auto all = whole.eval_all(prompt);
  const std::vector<float> want(all.begin(), all.end());
  const auto first = passes.eval_all(std::span<const Token>(prompt.data(), 512));
  std::vector<float> got(first.begin(), first.end());
  const auto rest = passes.eval_all(std::span<const Token>(prompt.data() + 512, 88));
  got.insert(got.end(), rest.begin(), rest.end());
  EXPECT_TRUE(want == got);
  const auto last = last_only.eval(prompt);
  EXPECT_TRUE(std::ranges::equal(last, std::span<const float>(want).last(512)));
  EXPECT_EQ(last_only.position(), 600);
}

TEST_F(SessionTest, RejectsBadTokens) {
  Session s(*model_);
  EXPECT_THROW(s.eval(std::vector<Token>{}), InvalidArgument);
  EXPECT_THROW(s.eval(std::vector<Token>{1, 512}), InvalidArgument);
  EXPECT_THROW(s.eval(std::vector<Token>{-1}), InvalidArgument);
  EXPECT_EQ(s.position(), 0);
}

TEST_F(SessionTest, RewindThenReplayGivesTheSameLogits) {
  Session s(*model_);
  const std::vector<Token> prompt{1, 403, 407, 261, 378};
  s.eval(prompt);
  const Token a = 432, b = 300;
  const auto first = s.eval(std::span<const Token>(&a, 1));
  const std::vector<float> expected(first.begin(), first.end());
  s.eval(std::span<const Token>(&b, 1));
  s.rewind(2);
  EXPECT_EQ(s.position(), 5);
  const auto again = s.eval(std::span<const Token>(&a, 1));
  EXPECT_EQ(std::vector<float>(again.begin(), again.end()), expected);
  EXPECT_THROW(s.rewind(100), InvalidArgument);
}

TEST_F(SessionTest, BatchedAndTokenByTokenPromptsAgree) {
  const std::vector<Token> prompt{1, 403, 407, 261, 378, 432, 383};
  Session batched(*model_), stepped(*model_);
  const auto all = batched.eval_all(prompt);
  ASSERT_EQ(all.size(), prompt.size() * 512);
  for (size_t i = 0; i < prompt.size(); ++i) {
    const auto row = stepped.eval(std::span<const Token>(&prompt[i], 1));
    for (size_t v = 0; v < 512; ++v) EXPECT_NEAR(row[v], all[i * 512 + v], 0.3f) << "position " << i;
  }
}

// Prompts of kTiledAttentionTokens or more take llama.cpp's tiled attention
// (f32 sums) instead of the one-token kernel's f16 ones: near, not equal
// (both within 0.04 of an F32 cache here; on the F32 weights, as
// quantized activations would turn that into whole int8 steps).
TEST_F(SessionTest, LongBatchedAndTokenByTokenPromptsAgree) {
  std::vector<Token> prompt{1};
  for (Token t = 0; prompt.size() < 100; ++t) prompt.push_back(260 + (t * 37) % 250);
  const Model model = Model::load(test::shared_path("models/stories260K-f32.gguf"));
  Session batched(model), stepped(model);
  const auto all = batched.eval_all(prompt);
  for (size_t i = 0; i < prompt.size(); ++i) {
    const auto row = stepped.eval(std::span<const Token>(&prompt[i], 1));
    for (size_t v = 0; v < 512; ++v) ASSERT_NEAR(row[v], all[i * 512 + v], 0.1f) << "position " << i;
  }
}

// A prompt long enough that matmuls, attention and the per-row work (RoPE,
// the gated activation) split into several tasks (tasks hold a minimum of
// work, which a tiny model's single steps lack).
TEST_F(SessionTest, LogitsAreIdenticalForAnyThreadCount) {
  for (const char* file :
       {"models/stories260K-f32.gguf", "models/stories260K-q4_0.gguf", "models/synth/qwen3-q8_0.gguf"}) {
    const Model model = Model::load(test::shared_path(file));
    const auto length = static_cast<size_t>(model.config().context_length - 1);
    std::vector<Token> prompt{1};
    for (Token t = 0; prompt.size() < length; ++t) prompt.push_back(260 + (t * 37) % 250);
    std::vector<float> reference;
    for (int threads : {1, 2, 3, 4}) {
      Session s(model, {.threads = threads});
      EXPECT_EQ(s.threads(), threads);
      const auto all = s.eval_all(prompt);
      std::vector<float> logits(all.begin(), all.end());
      const Token next = 261;
      const auto step = s.eval(std::span<const Token>(&next, 1));
      logits.insert(logits.end(), step.begin(), step.end());
      if (reference.empty()) {
        reference = logits;
      } else {
        EXPECT_EQ(logits, reference) << file << " with " << threads << " threads";
      }
    }
  }
}

TEST_F(SessionTest, ManySessionsShareOneModelAcrossThreads) {
  const std::vector<Token> prompt{1, 403, 407, 261, 378};
  Session reference(*model_);
  const auto expected_span = reference.eval(prompt);
  const std::vector<float> expected(expected_span.begin(), expected_span.end());
  std::vector<std::vector<float>> results(4);
  std::vector<std::thread> threads;
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back([&, i] {
      const Model shared = *model_;  // a copy of the handle shares the weights
      Session s(shared);
      for (int round = 0; round < 5; ++round) {
        s.rewind(s.position());
        const auto l = s.eval(prompt);
        results[i].assign(l.begin(), l.end());
      }
    });
  }
  for (auto& t : threads) t.join();
  for (const auto& r : results) EXPECT_EQ(r, expected);
}

TEST_F(SessionTest, GenerateStopsAndStreams) {
  Session s(*model_);
  GenerateOptions o;
  o.max_tokens = 10;
  o.sampler.temperature = 0;
  std::string streamed;
  int calls = 0;
  const auto r = generate(s, "Once upon a time", o, [&](Token, std::string_view text) {
    streamed += text;
    ++calls;
    return true;
  });
  EXPECT_EQ(r.tokens.size(), 10u);
  EXPECT_EQ(r.stop_reason, StopReason::MaxTokens);
  EXPECT_EQ(streamed, r.text);
  EXPECT_EQ(r.text.substr(0, 18), ", there was a litt");
  // The last token is sampled, not evaluated: its logits would go unused.
  EXPECT_EQ(s.position(), std::ssize(r.prompt_tokens) + 9);

  Session small(*model_, {.context_length = 6});
  o.max_tokens = 100;
  const auto full = generate(small, "Once upon a time", o);
  EXPECT_EQ(full.stop_reason, StopReason::ContextFull);
  EXPECT_EQ(full.tokens.size(), 2u);  // positions 5 and 6 (the last is sampled, not evaluated)

  Session tiny(*model_, {.context_length = 3});
  EXPECT_THROW(generate(tiny, "Once upon a time", o), ContextOverflow);

  Session stop(*model_);
  o.stop = {"girl"};
  const auto stopped = generate(stop, "Once upon a time", o);
  EXPECT_EQ(stopped.stop_reason, StopReason::StopString);
  EXPECT_TRUE(stopped.text.ends_with("girl"));
}

}  // namespace
}  // namespace ullm
