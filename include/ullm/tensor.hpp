// Tensor element types and zero-copy tensor views.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace ullm {

// Numbered exactly as GGML's type ids, so a GGUF tensor's type maps directly.
enum class DType : uint32_t {
  F32 = 0,
  F16 = 1,
  Q4_0 = 2,
  Q4_1 = 3,
  Q5_0 = 6,
  Q5_1 = 7,
  Q8_0 = 8,
  Q8_1 = 9,
  Q2_K = 10,
  Q3_K = 11,
  Q4_K = 12,
  Q5_K = 13,
  Q6_K = 14,
  Q8_K = 15,
  IQ2_XXS = 16,
  IQ2_XS = 17,
  IQ3_XXS = 18,
  IQ1_S = 19,
  IQ4_NL = 20,
  IQ3_S = 21,
  IQ2_S = 22,
  IQ4_XS = 23,
  I8 = 24,
  I16 = 25,
  I32 = 26,
  I64 = 27,
  F64 = 28,
  IQ1_M = 29,
  BF16 = 30,
  TQ1_0 = 34,
  TQ2_0 = 35,
  MXFP4 = 39,
};

// Storage layout of one element type: elements are stored in blocks of
// `block_size` elements taking `block_bytes` bytes (1 and sizeof(T) for plain types).
struct DTypeInfo {
  std::string_view name;
  int64_t block_size;
  size_t block_bytes;
};

// The layout of a GGML type id, or nullopt if the id is not a known type.
std::optional<DTypeInfo> dtype_info(uint32_t type_id);
// The layout of a type; throws UnsupportedError for an id that is not a known type.
DTypeInfo dtype_info(DType type);
std::string_view dtype_name(DType type);

inline constexpr int kMaxDims = 4;

// A view of a tensor's bytes, which live elsewhere (usually in a mapped GGUF
// file). Shape follows GGML: shape[0] is the contiguous (row) dimension.
struct TensorView {
  std::string_view name;
  DType dtype = DType::F32;
  int n_dims = 0;
  std::array<int64_t, kMaxDims> shape{1, 1, 1, 1};
  const std::byte* data = nullptr;
  size_t bytes = 0;

  int64_t elements() const { return shape[0] * shape[1] * shape[2] * shape[3]; }
  int64_t row_length() const { return shape[0]; }
  int64_t rows() const { return shape[1] * shape[2] * shape[3]; }
  size_t row_bytes() const { return bytes / static_cast<size_t>(rows()); }
  const std::byte* row(int64_t i) const { return data + static_cast<size_t>(i) * row_bytes(); }
  std::string shape_string() const;
};

}  // namespace ullm
