#include "kernels/type_traits.hpp"

#include <fmt/format.h>

#include "kernels/dot.hpp"
#include "kernels/quantize.hpp"
#include "ullm/error.hpp"

namespace ullm {
namespace {

struct TypeRow {
  uint32_t id;
  DTypeInfo info;
};

// Every GGML type id with its storage layout (ggml-common.h).
constexpr TypeRow kTypes[] = {
    {0, {"F32", 1, 4}},         {1, {"F16", 1, 2}},         {2, {"Q4_0", 32, 18}},      {3, {"Q4_1", 32, 20}},
    {6, {"Q5_0", 32, 22}},      {7, {"Q5_1", 32, 24}},      {8, {"Q8_0", 32, 34}},      {9, {"Q8_1", 32, 36}},
    {10, {"Q2_K", 256, 84}},    {11, {"Q3_K", 256, 110}},   {12, {"Q4_K", 256, 144}},   {13, {"Q5_K", 256, 176}},
    {14, {"Q6_K", 256, 210}},   {15, {"Q8_K", 256, 292}},   {16, {"IQ2_XXS", 256, 66}}, {17, {"IQ2_XS", 256, 74}},
    {18, {"IQ3_XXS", 256, 98}}, {19, {"IQ1_S", 256, 50}},   {20, {"IQ4_NL", 32, 18}},   {21, {"IQ3_S", 256, 110}},
    {22, {"IQ2_S", 256, 82}},   {23, {"IQ4_XS", 256, 136}}, {24, {"I8", 1, 1}},         {25, {"I16", 1, 2}},
    {26, {"I32", 1, 4}},        {27, {"I64", 1, 8}},        {28, {"F64", 1, 8}},        {29, {"IQ1_M", 256, 56}},
    {30, {"BF16", 1, 2}},       {34, {"TQ1_0", 256, 54}},   {35, {"TQ2_0", 256, 66}},   {39, {"MXFP4", 32, 17}},
};

}  // namespace

std::optional<DTypeInfo> dtype_info(uint32_t type_id) {
  for (const auto& row : kTypes) {
    if (row.id == type_id) return row.info;
  }
  return std::nullopt;
}

DTypeInfo dtype_info(DType type) {
  if (auto info = dtype_info(static_cast<uint32_t>(type))) return *info;
  throw UnsupportedError(fmt::format("unknown tensor type id {}", static_cast<uint32_t>(type)));
}

std::string_view dtype_name(DType type) {
  auto info = dtype_info(static_cast<uint32_t>(type));
  return info ? info->name : "unknown";
}

std::string TensorView::shape_string() const {
  std::string s = "[";
  for (int d = 0; d < n_dims; ++d) s += fmt::format("{}{}", d ? ", " : "", shape[d]);
  return s + "]";
}

namespace kernels {
namespace {

struct KernelRow {
  DType type;
  TypeKernels kernels;
};

const KernelRow kKernels[] = {
    {DType::F32, {DType::F32, f32_to_float, float_to_f32, dot_f32_f32, dot_f32_f32_tiled, nullptr}},
    {DType::F16, {DType::F16, f16_to_float, float_to_f16, dot_f16_f16, dot_f16_f16_tiled, nullptr}},
    {DType::BF16, {DType::BF16, bf16_to_float, float_to_bf16, dot_bf16_bf16, dot_bf16_bf16_tiled, nullptr}},
    {DType::Q8_0, {DType::Q8_0, q8_0_to_float, float_to_q8_0, dot_q8_0_q8_0, dot_q8_0_q8_0, nullptr}},
    {DType::Q4_0, {DType::Q8_0, q4_0_to_float, float_to_q4_0, dot_q4_0_q8_0, dot_q4_0_q8_0, nullptr}},
    {DType::Q4_1, {DType::Q8_1, q4_1_to_float, float_to_q4_1, dot_q4_1_q8_1, dot_q4_1_q8_1, nullptr}},
    {DType::Q5_0, {DType::Q8_0, q5_0_to_float, float_to_q5_0, dot_q5_0_q8_0, dot_q5_0_q8_0, nullptr}},
    {DType::Q5_1, {DType::Q8_1, q5_1_to_float, float_to_q5_1, dot_q5_1_q8_1, dot_q5_1_q8_1, nullptr}},
    {DType::Q4_K, {DType::Q8_K, q4_k_to_float, float_to_q4_k, dot_q4_k_q8_k, dot_q4_k_q8_k, nullptr}},
    {DType::Q5_K, {DType::Q8_K, q5_k_to_float, float_to_q5_k, dot_q5_k_q8_k, dot_q5_k_q8_k, nullptr}},
    {DType::Q6_K, {DType::Q8_K, q6_k_to_float, float_to_q6_k, dot_q6_k_q8_k, dot_q6_k_q8_k, nullptr}},
    // Only activation formats: no weight kernels.
    {DType::Q8_1, {DType::Q8_1, q8_1_to_float, float_to_q8_1, nullptr, nullptr, nullptr}},
    {DType::Q8_K, {DType::Q8_K, q8_k_to_float, float_to_q8_k, nullptr, nullptr, nullptr}},
};

}  // namespace

const TypeKernels* type_kernels(DType type) {
  for (const auto& row : kKernels) {
    if (row.type == type) return &row.kernels;
  }
  return nullptr;
}

size_t row_size(DType type, int64_t n) {
  const DTypeInfo info = dtype_info(type);
  return static_cast<size_t>(n / info.block_size) * info.block_bytes;
}

}  // namespace kernels
}  // namespace ullm
