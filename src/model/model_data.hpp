// What a loaded Model holds. Internal: the public header exposes only Model.
#pragma once

#include <vector>

#include "kernels/kernel_table.hpp"
#include "ullm/gguf.hpp"
#include "ullm/model.hpp"
#include "ullm/tokenizer.hpp"

namespace ullm {

struct LayerWeights {
  std::vector<float> attn_norm;
  const TensorView* wq = nullptr;
  const TensorView* wk = nullptr;
  const TensorView* wv = nullptr;
  const TensorView* wo = nullptr;
  std::vector<float> ffn_norm;
  const TensorView* ffn_gate = nullptr;
  const TensorView* ffn_up = nullptr;
  const TensorView* ffn_down = nullptr;
};

struct Model::Data {
  gguf::File file;
  ModelConfig config;
  Tokenizer tokenizer;
  const TensorView* token_embd = nullptr;
  std::vector<float> output_norm;
  const TensorView* output = nullptr;  // token_embd when the embeddings are tied
  std::vector<LayerWeights> layers;
  const kernels::KernelTable* kernels = nullptr;  // chosen once at load
};

// Reads the hyper-parameters of the file's architecture; throws
// UnsupportedError for an unknown architecture, FormatError for missing or
// absurd values.
ModelConfig read_config(const gguf::File& file);

}  // namespace ullm
