#pragma once

#include <cstdint>

namespace ullm::kernels {

enum class RopeStyle {
  Adjacent,  // rotates pairs (2i, 2i+1): GGML's "normal" mode, used by llama
  Neox,      // rotates pairs (i, i + n_rot/2): GPT-NeoX style, used by qwen2/3, phi3, gemma
};

// How angles grow with position and pair index.
struct RopeFrequencies {
  float base = 10000.0f;
  float scale = 1.0f;              // linear position scaling (1 / rope.scaling.factor)
  const float* factors = nullptr;  // per-pair divisors (Llama 3's rope_freqs), n_rot/2 of them
};

struct KernelTable;

// Rotates the first n_rot dimensions of each of n_heads vectors of head_dim
// floats by position `pos`, through `table`'s rotate_pairs; dimensions past
// n_rot are left as they are. Angles follow ggml: theta_i = scale * (pos *
// base^(-2i/n_rot) / factors[i]), the power built by repeated multiplication
// in float.
void rope(const KernelTable& table, float* x, int64_t n_heads, int64_t head_dim, int64_t n_rot, int64_t pos,
          const RopeFrequencies& freq, RopeStyle style);

// Rotates pair i of each head's first 2 n_pairs dimensions by the angle with
// cosine cos[i] and sine sin[i]: (x0, x1) -> (x0 c - x1 s, x0 s + x1 c), each
// product rounded. The scalar reference of KernelTable::rows.rotate_pairs.
void rotate_pairs(float* x, int64_t n_heads, int64_t head_dim, int64_t n_pairs, const float* cos, const float* sin,
                  RopeStyle style);

}  // namespace ullm::kernels
