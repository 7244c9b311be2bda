// What a loaded Model holds. Internal: the public header exposes only Model.
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
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

// Copies of the weight matrices the kernels read faster in panel order
// (LoadOptions::repack_weights), made on first demand rather than at load:
// the panel kernels order a prompt's rows on the fly nearly as fast, so a
// reply's first token need not wait for the copy (see forward()). Safe to
// use from many sessions at once: one makes the copies, others wait for it,
// and until they are complete every weight reads the mapped file.
class RepackedWeights {
 public:
  // Makes the copies on all cores, unless made already.
  void make(const Model::Data& model) const;
  // The panel-order copy of w, or nullptr (not made yet, or not repacked).
  const std::byte* copy_of(const TensorView& w) const {
    if (!ready_.load(std::memory_order_acquire)) return nullptr;
    const auto it = copies_.find(w.data);
    return it == copies_.end() ? nullptr : it->second;
  }

 private:
  void make_now(const Model::Data& model) const;

  mutable std::once_flag once_;
  mutable std::atomic<bool> ready_{false};
  // One buffer for all copies, and each weight's copy by the address of its
  // mapped data.
  mutable HugePageBuffer storage_;
  mutable std::unordered_map<const std::byte*, const std::byte*> copies_;
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
  std::vector<std::string> refused_kernel_targets;
  // Null without LoadOptions::repack_weights.
  std::unique_ptr<RepackedWeights> repacked;

  // The panel-order copy of w, or nullptr.
  const std::byte* repacked_copy(const TensorView& w) const {
    return repacked != nullptr ? repacked->copy_of(w) : nullptr;
  }
};

// Reads the hyper-parameters of the file's architecture; throws
// UnsupportedError for an unknown architecture, FormatError for missing or
// absurd values.
ModelConfig read_config(const gguf::File& file);

}  // namespace ullm
