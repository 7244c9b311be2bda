#include "kernels/matmul.hpp"

#include <fmt/format.h>

#include <algorithm>

#include "kernels/blocks.hpp"
#include "kernels/type_traits.hpp"
#include "ullm/error.hpp"

namespace ullm::kernels {

void PreparedActivations::prepare(const KernelTable& table, DType weight_type, const float* x, int64_t n_tokens,
                                  int64_t k, const ForEachRow& for_each_row) {
  const TypeKernels* wk = table.find(weight_type);
  const TypeKernels* ak = wk != nullptr ? table.find(wk->activation_type) : nullptr;
  if (ak == nullptr) {
    throw UnsupportedError(fmt::format("no {} kernels for weights of type {}", table.name, dtype_name(weight_type)));
  }
  type_ = wk->activation_type;
  n_tokens_ = n_tokens;
  k_ = k;
  row_bytes_ = row_size(type_, k);
  data_.resize(row_bytes_ * static_cast<size_t>(n_tokens));
  const bool widen = wk->dot_tile_wide != nullptr || (wk->dot_tiled_tile_wide != nullptr && n_tokens > 1);
  widened_.resize(widen ? static_cast<size_t>(n_tokens * k) : 0);
  const auto convert = [&](int64_t t) {
    std::byte* converted = data_.data() + static_cast<size_t>(t) * row_bytes_;
    ak->from_float(x + t * k, converted, k);
    if (widen) ak->to_float(converted, widened_.data() + t * k, k);
  };
  if (for_each_row && n_tokens > 1) {  // (one row, a decode step's, needs no std::function)
    for_each_row(n_tokens, k, convert);
  } else {
    for (int64_t t = 0; t < n_tokens; ++t) convert(t);
  }
  const PanelKernel& kernel = wk->panel;
  has_panel_ = (kernel.fn != nullptr || kernel.repacked != nullptr) && (type_ == DType::Q8_0 || type_ == DType::Q8_K);
  panel_sum_factor_ = kernel.sum_factor;
  if (has_panel_ && type_ == DType::Q8_0) prepare_block_sums(table, kernel.sum_factor);
  panel_ = {data_.data(), row_bytes_, n_tokens, panel_scales_.data(), panel_sums_.data()};
}

void PreparedActivations::prepare_block_sums(const KernelTable& table, int32_t sum_factor) {
  const int64_t blocks = k_ / kQK8_0;
  panel_scales_.resize(static_cast<size_t>(n_tokens_ * blocks));
  panel_sums_.resize(panel_scales_.size());
  // The rows are contiguous: all tokens' blocks in one call.
  table.q8_0_block_sums(data_.data(), n_tokens_ * blocks, sum_factor, panel_scales_.data(), panel_sums_.data());
}

const PanelActivations* PreparedActivations::panel(const PanelKernel& kernel) const {
  return has_panel_ && kernel.sum_factor == panel_sum_factor_ ? &panel_ : nullptr;
}

void matmul_rows(const KernelTable& table, const TensorView& w, const PreparedActivations& x, float* y,
                 int64_t row_begin, int64_t row_end, const std::byte* repacked) {
  if (!x.suits(w.dtype, w.row_length())) {
    throw InvalidArgument(
        fmt::format("matmul with '{}': activations were prepared for another format or length", w.name));
  }
  const TypeKernels* wk = table.find(w.dtype);
  if (wk == nullptr) {
    throw UnsupportedError(
        fmt::format("tensor '{}': no {} kernels for type {}", w.name, table.name, dtype_name(w.dtype)));
  }
  const int64_t k = w.row_length();
  const int64_t rows = w.rows();
  if (row_begin < 0 || row_begin > row_end || row_end > rows) {
    throw InvalidArgument(
        fmt::format("matmul with '{}': rows [{}, {}) are not within its {} rows", w.name, row_begin, row_end, rows));
  }
  const size_t w_row_bytes = row_size(w.dtype, k);
  // ggml tiles many-token float products and walks one-token ones row by
  // row; the two paths add in different orders, and ullm follows each.
  const bool many_tokens = x.tokens() > 1 && rows % 4 == 0;
  // Panels add in the many-token order, which the panel formats use for one
  // token too.
  const bool panel_order = many_tokens || wk->dot == wk->dot_tiled;
  const PanelActivations* panel_x = panel_order ? x.panel(wk->panel) : nullptr;
  if (repacked != nullptr && wk->panel.repacked != nullptr && panel_x != nullptr) {
    // Whole panels from the repacked copy; rows outside them (a range split
    // inside a panel) take the paths below.
    const int64_t height = wk->panel.rows;
    const int64_t first = (row_begin + height - 1) / height * height, last = row_end / height * height;
    if (first < last) {
      wk->panel.repacked(k, repacked + static_cast<size_t>(first) * w_row_bytes, 0, last - first, *panel_x, y + first,
                         rows);
      matmul_rows(table, w, x, y, last, row_end);
      row_end = first;
    }
  }
  if (wk->panel.fn != nullptr && panel_x != nullptr) {
    const int64_t whole = (row_end - row_begin) / wk->panel.rows * wk->panel.rows;
    wk->panel.fn(k, w.data + static_cast<size_t>(row_begin) * w_row_bytes, w_row_bytes, whole, *panel_x, y + row_begin,
                 rows);
    row_begin += whole;
  }
  const DotFn dot = many_tokens ? wk->dot_tiled : wk->dot;
  DotTileFn dot_tile = dot == wk->dot ? wk->dot_tile : wk->dot_tiled_tile;
  // The activation rows the tiles read: as prepared, or widened to floats.
  const std::byte* x_rows = x.row(0);
  size_t x_row_bytes = x.row_bytes();
  const DotTileFn wide_tile = dot == wk->dot ? wk->dot_tile_wide : wk->dot_tiled_tile_wide;
  if (wide_tile != nullptr && x.widened() != nullptr) {
    dot_tile = wide_tile;
    x_rows = reinterpret_cast<const std::byte*>(x.widened());
    x_row_bytes = static_cast<size_t>(k) * sizeof(float);
  }
  if (dot_tile != nullptr) {
    // Whole tiles share loads; the edges take the one-at-a-time path below.
    for (; row_begin + kTileRows <= row_end; row_begin += kTileRows) {
      const std::byte* wrow = w.data + static_cast<size_t>(row_begin) * w_row_bytes;
      for (int64_t t = 0; t < x.tokens(); t += kTileTokens) {
        const int tokens = static_cast<int>(std::min<int64_t>(kTileTokens, x.tokens() - t));
        dot_tile(k, wrow, w_row_bytes, x_rows + static_cast<size_t>(t) * x_row_bytes, x_row_bytes, tokens,
                 y + t * rows + row_begin, rows);
      }
    }
  }
  for (int64_t r = row_begin; r < row_end; ++r) {
    const std::byte* wrow = w.data + static_cast<size_t>(r) * w_row_bytes;
    for (int64_t t = 0; t < x.tokens(); ++t) y[t * rows + r] = dot(k, wrow, x.row(t));
  }
}

int64_t panel_rows(const KernelTable& table, DType type) {
  const TypeKernels* k = table.find(type);
  return k != nullptr && k->panel.repack != nullptr ? k->panel.rows : 0;
}

bool repacks(const KernelTable& table, const TensorView& w) {
  const int64_t height = panel_rows(table, w.dtype);
  return height > 0 && w.n_dims == 2 && w.rows() % height == 0 &&
         w.bytes == row_size(w.dtype, w.row_length()) * static_cast<size_t>(w.rows());
}

void repack_weights(const KernelTable& table, const TensorView& w, std::byte* out, int64_t row_begin, int64_t row_end) {
  if (!repacks(table, w)) {
    throw InvalidArgument(fmt::format("tensor '{}': {} kernels do not repack it", w.name, table.name));
  }
  const size_t row_bytes = row_size(w.dtype, w.row_length());
  table.find(w.dtype)->panel.repack(w.row_length(), w.data + static_cast<size_t>(row_begin) * row_bytes, row_bytes,
                                    row_end - row_begin, out + static_cast<size_t>(row_begin) * row_bytes);
}

bool PreparedActivations::suits(DType weight_type, int64_t k) const {
  const TypeKernels* wk = type_kernels(weight_type);
  return wk != nullptr && wk->activation_type == type_ && k == k_ && !data_.empty();
}

bool PreparedActivations::suits_fully(const KernelTable& table, DType weight_type, int64_t k) const {
  const TypeKernels* wk = table.find(weight_type);
  if (wk == nullptr || !suits(weight_type, k)) return false;
  const bool has_panel = wk->panel.fn != nullptr || wk->panel.repacked != nullptr;
  return !has_panel || panel(wk->panel) != nullptr;
}

int64_t matmul_rows_per_task(int64_t rows, int64_t k, int64_t tokens, int threads) {
  const int64_t macs = rows * std::max<int64_t>(1, k * tokens);
  const int64_t tasks = std::clamp<int64_t>(macs / kMinTaskMacs, 1, 4 * int64_t{threads});
  return ((rows + tasks - 1) / tasks + 15) / 16 * 16;
}

void matmul(const KernelTable& table, const TensorView& w, const PreparedActivations& x, float* y) {
  matmul_rows(table, w, x, y, 0, w.rows());
}

void dequantize_row(const KernelTable& table, const TensorView& w, int64_t row, float* out) {
  if (row < 0 || row >= w.rows()) {
    throw InvalidArgument(fmt::format("tensor '{}': row {} out of range [0, {})", w.name, row, w.rows()));
  }
  const TypeKernels* k = table.find(w.dtype);
  if (k == nullptr) {
    throw UnsupportedError(fmt::format("tensor '{}': no kernels for type {}", w.name, dtype_name(w.dtype)));
  }
  k->to_float(w.row(row), out, w.row_length());
}

}  // namespace ullm::kernels
