// A Session's private state: KV cache, position and scratch buffers.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "kernels/matmul.hpp"
#include "runtime/thread_pool.hpp"
#include "ullm/session.hpp"

namespace ullm {

struct Session::State {
  explicit State(Model m) : model(std::move(m)) {}

  Model model;
  SessionOptions options;
  int64_t context_length = 0;
  int64_t position = 0;

  // Per layer, one row of n_head_kv * head_dim values per position; only the
  // vectors of the chosen KvType are allocated.
  std::vector<std::vector<uint16_t>> k_f16, v_f16;
  std::vector<std::vector<float>> k_f32, v_f32;

  // Scratch, sized for the largest batch seen so far and reused.
  std::vector<float> x, xn, q, k, v, attn, proj, gate, up, logits;
  std::vector<float> scores;  // F32 cache: context_length floats per thread
  kernels::PreparedActivations activations;
  std::unique_ptr<ThreadPool> pool;
};

// The most tokens one forward pass takes (llama.cpp's default micro-batch):
// a longer prompt runs as several, so scratch stays bounded and each pass
// computes as llama.cpp's would.
inline constexpr int64_t kMaxBatchTokens = 512;

enum class Logits { kNone, kLast, kAll };

// Runs the decoder over `tokens` (at most kMaxBatchTokens) at positions
// [position, position + n), storing their keys and values in the cache, and
// writes to `logits` those of every position (kAll: n rows), the last one
// (kLast) or none (kNone: only the cache is wanted).
void forward(const Model::Data& model, Session::State& state, std::span<const Token> tokens, Logits wanted,
             float* logits);

}  // namespace ullm
