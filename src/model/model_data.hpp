// What a loaded Model holds. Internal: the public header exposes only Model.
#pragma once

#include <memory>
#include <unordered_map>
#include <vector>

#include "kernels/kernel_table.hpp"
#include "runtime/huge_pages.hpp"
#include "ullm/gguf.hpp"
#include "ullm/model.hpp"
#include "ullm/tokenizer.hpp"

namespace ullm {

// Weights are views into the mapped file; a fused weight (phi3's attn_qkv,
// its [gate | up] ffn_up) is split into row ranges of itself, copying nothing.
struct LayerWeights {
  std::vector<float> attn_norm;
  TensorView wq, wk, wv, wo;
  std::vector<float> bq, bk, bv;      // empty without biases
  std::vector<float> q_norm, k_norm;  // per-head RMSNorm weights, empty without
  std::vector<float> attn_post_norm;  // empty without post norms
  std::vector<float> ffn_norm;
  TensorView ffn_gate, ffn_up, ffn_down;
  std::vector<float> ffn_post_norm;
};

struct Model::Data {
  gguf::File file;
  ModelConfig config;
  Tokenizer tokenizer;
  const TensorView* token_embd = nullptr;
  std::vector<float> output_norm;
  std::vector<float> rope_factors;     // rope_freqs.weight (Llama 3), empty without
  const TensorView* output = nullptr;  // token_embd when the embeddings are tied
  std::vector<LayerWeights> layers;
  const kernels::KernelTable* kernels = nullptr;  // chosen once at load
  // Weights the kernels read in panel order (LoadOptions::repack_weights):
  // one buffer holding the copies, and each weight's copy by the address of
  // its mapped data.
  HugePageBuffer repacked_storage;
  std::unordered_map<const std::byte*, const std::byte*> repacked;

  // The panel-order copy of w, or nullptr.
  const std::byte* repacked_copy(const TensorView& w) const {
    const auto it = repacked.find(w.data);
    return it == repacked.end() ? nullptr : it->second;
  }
};

// Reads the hyper-parameters of the file's architecture; throws
// UnsupportedError for an unknown architecture, FormatError for missing or
// absurd values.
ModelConfig read_config(const gguf::File& file);

}  // namespace ullm
