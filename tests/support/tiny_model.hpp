// Writes tiny random-weight llama GGUF files, so tests can make models of
// any shape, and break them in one chosen way.
#pragma once

#include <filesystem>
#include <functional>
#include <string>

#include "ullm/gguf.hpp"

namespace ullm::test {

struct TinyModelSpec {
  int64_t n_embd = 32;
  int64_t n_layer = 2;
  int64_t n_head = 4;
  int64_t n_head_kv = 2;
  int64_t n_ff = 64;
  int64_t context = 64;
  DType weight_type = DType::F32;
  bool tied = false;
  uint32_t seed = 1;
  // Runs on the writer before the tensors are added: override keys here.
  std::function<void(gguf::Writer&)> edit_metadata;
  // Return false to leave a tensor out; may change its type or shape.
  std::function<bool(std::string& name, DType& type, std::vector<int64_t>& shape)> edit_tensor;
};

// A vocabulary of <unk>, <s>, </s>, the 256 byte tokens and a few pieces.
std::filesystem::path write_tiny_model(const std::string& file_name, const TinyModelSpec& spec = {});

}  // namespace ullm::test
