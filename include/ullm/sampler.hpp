// Picks the next token from logits: penalties, then top-k, top-p and min-p
// filters, then temperature and a seeded random draw. Temperature 0 is greedy.
#pragma once

#include <cstdint>
#include <random>
#include <span>
#include <vector>

#include "ullm/tokenizer.hpp"

namespace ullm {

struct SamplerOptions {
  float temperature = 0.8f;     // 0: always the most likely token (lowest id on ties)
  int top_k = 40;               // keep the k most likely; 0 keeps all
  float top_p = 0.95f;          // keep the smallest set with this much probability; 1 keeps all
  float min_p = 0.05f;          // drop tokens below min_p x the top probability; 0 keeps all
  float repeat_penalty = 1.0f;  // > 1 discourages tokens among the last repeat_last_n
  int repeat_last_n = 64;
  uint64_t seed = 0xFFFFFFFF;  // kRandomSeed picks a seed from the system

  static constexpr uint64_t kRandomSeed = 0xFFFFFFFF;
};

class Sampler {
 public:
  // Throws InvalidArgument for a negative temperature, top_k, min_p or
  // repeat_last_n, a top_p outside (0, 1] or a repeat_penalty <= 0.
  explicit Sampler(const SamplerOptions& options = {});

  // `history` is the context so far (for the repetition penalty).
  Token sample(std::span<const float> logits, std::span<const Token> history);
  uint64_t seed() const { return seed_; }

 private:
  struct Candidate {
    Token id;
    float logit;
    float p;
  };
  SamplerOptions options_;
  uint64_t seed_;
  std::mt19937_64 rng_;
  std::vector<Candidate> candidates_;
};

}  // namespace ullm
