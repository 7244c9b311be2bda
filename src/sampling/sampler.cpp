#include <fmt/format.h>
#include <algorithm>
#include <cmath>
#include <numeric>
#include <unordered_set>

#include "ullm/error.hpp"
#include "ullm/sampler.hpp"

namespace ullm {

Sampler::Sampler(const SamplerOptions& options) : options_(options) {
  if (!(options.temperature >= 0.0f)) throw InvalidArgument(fmt::format("temperature {} < 0", options.temperature));
  if (options.top_k < 0) throw InvalidArgument(fmt::format("top-k {} < 0", options.top_k));
  if (!(options.top_p > 0.0f && options.top_p <= 1.0f)) {
    throw InvalidArgument(fmt::format("top-p {} is outside (0, 1]", options.top_p));
  }
  if (!(options.min_p >= 0.0f && options.min_p <= 1.0f)) {
    throw InvalidArgument(fmt::format("min-p {} is outside [0, 1]", options.min_p));
  }
  if (!(options.repeat_penalty > 0.0f)) {
    throw InvalidArgument(fmt::format("repeat penalty {} <= 0", options.repeat_penalty));
  }
  if (options.repeat_last_n < 0) throw InvalidArgument(fmt::format("repeat-last-n {} < 0", options.repeat_last_n));
  seed_ = options.seed == SamplerOptions::kRandomSeed ? std::random_device{}() : options.seed;
  rng_.seed(seed_);
}

Token Sampler::sample(std::span<const float> logits, std::span<const Token> history) {
  if (logits.empty()) throw InvalidArgument("cannot sample from empty logits");
  candidates_.resize(logits.size());
  for (size_t i = 0; i < logits.size(); ++i) candidates_[i] = {static_cast<Token>(i), logits[i], 0.0f};

  // Repetition penalty, as llama.cpp applies it: shrink positive logits,
  // push negative ones further down, once per distinct recent token.
  if (options_.repeat_penalty != 1.0f && options_.repeat_last_n > 0) {
    const size_t n = std::min(history.size(), static_cast<size_t>(options_.repeat_last_n));
    std::unordered_set<Token> recent(history.end() - static_cast<std::ptrdiff_t>(n), history.end());
    for (Token t : recent) {
      if (t < 0 || static_cast<size_t>(t) >= candidates_.size()) continue;
      float& l = candidates_[t].logit;
      l = l > 0 ? l / options_.repeat_penalty : l * options_.repeat_penalty;
    }
  }

  const auto by_logit = [](const Candidate& a, const Candidate& b) {
    return a.logit > b.logit || (a.logit == b.logit && a.id < b.id);
  };
  if (options_.temperature == 0.0f) {
    return std::min_element(candidates_.begin(), candidates_.end(), by_logit)->id;
  }

  size_t keep = candidates_.size();
  if (options_.top_k > 0 && static_cast<size_t>(options_.top_k) < keep) keep = options_.top_k;
  std::partial_sort(candidates_.begin(), candidates_.begin() + static_cast<std::ptrdiff_t>(keep), candidates_.end(),
                    by_logit);
  candidates_.resize(keep);

  // Probabilities of the survivors at temperature 1 decide the top-p and
  // min-p cut-offs; the temperature then reshapes what is left.
  const auto softmax = [&](float temperature) {
    const float max = candidates_.front().logit;
    double sum = 0.0;
    for (auto& c : candidates_) {
      c.p = std::exp((c.logit - max) / temperature);
      sum += c.p;
    }
    for (auto& c : candidates_) c.p = static_cast<float>(c.p / sum);
  };
  softmax(1.0f);
  if (options_.top_p < 1.0f) {
    double cumulative = 0.0;
    size_t n = 0;
    while (n < candidates_.size()) {
      cumulative += candidates_[n++].p;
      if (cumulative >= options_.top_p) break;
    }
    candidates_.resize(n);
  }
  if (options_.min_p > 0.0f) {
    const float threshold = candidates_.front().p * options_.min_p;
    size_t n = 1;
    while (n < candidates_.size() && candidates_[n].p >= threshold) ++n;
    candidates_.resize(n);
  }
  softmax(options_.temperature);

  std::uniform_real_distribution<double> uniform(0.0, 1.0);
  double r = uniform(rng_);
  for (const auto& c : candidates_) {
    r -= c.p;
    if (r < 0.0) return c.id;
  }
  return candidates_.back().id;
}

}  // namespace ullm
