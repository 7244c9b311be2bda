// The sampler's filters and randomness, checked by their definitions.
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <set>

#include "ullm/error.hpp"
#include "ullm/sampler.hpp"

namespace ullm {
namespace {

std::vector<float> logits_from_probs(const std::vector<double>& p) {
  std::vector<float> l;
  for (double x : p) l.push_back(static_cast<float>(std::log(x)));
  return l;
}

std::map<Token, int> histogram(SamplerOptions o, const std::vector<float>& logits, int draws) {
  Sampler s(o);
  std::map<Token, int> h;
  for (int i = 0; i < draws; ++i) ++h[s.sample(logits, {})];
  return h;
}

TEST(Sampler, GreedyTakesArgmaxLowestIdOnTies) {
  Sampler s({.temperature = 0});
  EXPECT_EQ(s.sample(std::vector<float>{1, 5, 3, 5}, {}), 1);
  EXPECT_EQ(s.sample(std::vector<float>{-1, -2}, {}), 0);
}

TEST(Sampler, TopKNeverLeavesTheKBest) {
  std::vector<float> logits(100);
  for (int i = 0; i < 100; ++i) logits[i] = static_cast<float>((i * 37) % 100) * 0.05f;
  std::set<Token> best;  // ids with the 5 largest logits
  std::vector<int> order(100);
  for (int i = 0; i < 100; ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](int a, int b) { return logits[a] > logits[b]; });
  best.insert(order.begin(), order.begin() + 5);
  const auto h = histogram({.temperature = 5.0f, .top_k = 5, .top_p = 1, .min_p = 0, .seed = 1}, logits, 5000);
  for (const auto& [id, n] : h) EXPECT_TRUE(best.count(id)) << "token " << id << " outside the top 5";
  EXPECT_EQ(h.size(), 5u);  // at temperature 5 all five show up
}

TEST(Sampler, TopPKeepsTheSmallestSufficientSet) {
  const auto logits = logits_from_probs({0.5, 0.3, 0.15, 0.05});
  // 0.5 + 0.3 = 0.8 >= 0.75: only tokens 0 and 1 remain.
  const auto h = histogram({.temperature = 1, .top_k = 0, .top_p = 0.75f, .min_p = 0, .seed = 2}, logits, 4000);
  EXPECT_EQ(h.size(), 2u);
  EXPECT_TRUE(h.count(0) && h.count(1));
  // Renormalised: token 0 has 0.5/0.8 of the mass.
  EXPECT_NEAR(h.at(0) / 4000.0, 0.625, 0.03);
}

TEST(Sampler, MinPDropsUnlikelyTokens) {
  const auto logits = logits_from_probs({0.6, 0.25, 0.1, 0.05});
  // Threshold 0.3 * 0.6 = 0.18: tokens 2 and 3 go.
  const auto h = histogram({.temperature = 1, .top_k = 0, .top_p = 1, .min_p = 0.3f, .seed = 3}, logits, 4000);
  EXPECT_EQ(h.size(), 2u);
  EXPECT_FALSE(h.count(2) || h.count(3));
}

TEST(Sampler, DrawsFollowTheDistribution) {
  const auto logits = logits_from_probs({0.7, 0.2, 0.1});
  const auto h = histogram({.temperature = 1, .top_k = 0, .top_p = 1, .min_p = 0, .seed = 4}, logits, 20000);
  EXPECT_NEAR(h.at(0) / 20000.0, 0.7, 0.015);
  EXPECT_NEAR(h.at(1) / 20000.0, 0.2, 0.015);
  EXPECT_NEAR(h.at(2) / 20000.0, 0.1, 0.015);
}

TEST(Sampler, SameSeedSameTokens) {
  std::vector<float> logits(50);
  for (int i = 0; i < 50; ++i) logits[i] = std::sin(static_cast<float>(i));
  const SamplerOptions o{.temperature = 1.5f, .top_k = 0, .top_p = 1, .min_p = 0, .seed = 42};
  Sampler a(o), b(o), c({.temperature = 1.5f, .top_k = 0, .top_p = 1, .min_p = 0, .seed = 43});
  std::vector<Token> ta, tb, tc;
  for (int i = 0; i < 200; ++i) {
    ta.push_back(a.sample(logits, {}));
    tb.push_back(b.sample(logits, {}));
    tc.push_back(c.sample(logits, {}));
  }
  EXPECT_EQ(ta, tb);
  EXPECT_NE(ta, tc);
  EXPECT_EQ(a.seed(), 42u);
}

TEST(Sampler, RepeatPenaltyDemotesRecentTokens) {
  Sampler s({.temperature = 0, .repeat_penalty = 2.0f, .repeat_last_n = 2});
  const std::vector<float> logits{3.0f, 2.0f, -1.0f};
  EXPECT_EQ(s.sample(logits, std::vector<Token>{0}), 1);        // 3/2 < 2
  EXPECT_EQ(s.sample(logits, std::vector<Token>{0, 5, 9}), 0);  // token 0 is outside the last 2
}

TEST(Sampler, RejectsBadOptions) {
  EXPECT_THROW(Sampler({.temperature = -1}), InvalidArgument);
  EXPECT_THROW(Sampler({.top_k = -3}), InvalidArgument);
  EXPECT_THROW(Sampler({.top_p = 0}), InvalidArgument);
  EXPECT_THROW(Sampler({.top_p = 1.5f}), InvalidArgument);
  EXPECT_THROW(Sampler({.min_p = -0.1f}), InvalidArgument);
  EXPECT_THROW(Sampler({.repeat_penalty = 0}), InvalidArgument);
  EXPECT_THROW(Sampler({.temperature = NAN}), InvalidArgument);
  Sampler s;
  EXPECT_THROW(s.sample({}, {}), InvalidArgument);
}

}  // namespace
}  // namespace ullm
