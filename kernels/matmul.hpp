// Matrix products of a stored weight matrix with float activations.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <vector>

#include "kernels/kernel_table.hpp"
#include "ullm/tensor.hpp"

namespace ullm::kernels {

// Activations converted once into the format a weight type pairs with, so
// every row of the weight reuses them.
class PreparedActivations {
 public:
  // Runs convert(t) for every row t < rows (each `width` floats): a caller
  // with threads spreads them (rows are independent).
  using ForEachRow = std::function<void(int64_t rows, int64_t width, const std::function<void(int64_t)>& convert)>;
  // Converts `n_tokens` rows of `k` floats for products with weights of
  // `weight_type`, with the table's converters (every target converts alike),
  // through `for_each_row` if given, else on this thread.
  void prepare(const KernelTable& table, DType weight_type, const float* x, int64_t n_tokens, int64_t k,
               const ForEachRow& for_each_row = {});
  const std::byte* row(int64_t t) const { return data_.data() + static_cast<size_t>(t) * row_bytes_; }
  // Whether these activations pair with weights of `weight_type` and row length `k`.
  bool suits(DType weight_type, int64_t k) const;
  // Whether they also hold what `table`'s panel kernel for `weight_type`
  // reads, so a matmul with such weights runs at full speed.
  bool suits_fully(const KernelTable& table, DType weight_type, int64_t k) const;
  size_t row_bytes() const { return row_bytes_; }
  // The rows widened to floats (k apart), prepared where the weight type
  // reads them so (TypeKernels::dot_tile_wide, dot_tiled_tile_wide);
  // nullptr otherwise.
  const float* widened() const { return widened_.empty() ? nullptr : widened_.data(); }
  int64_t tokens() const { return n_tokens_; }
  int64_t k() const { return k_; }
  DType type() const { return type_; }
  // These activations as `kernel` reads them, or nullptr if they were
  // prepared for another (another weight type or table).
  const PanelActivations* panel(const PanelKernel& kernel) const;

 private:
  void prepare_block_sums(const KernelTable& table, int32_t sum_factor);

  std::vector<std::byte> data_;
  std::vector<float> widened_;
  // What the weight type's panel kernel reads besides the rows, if it has one.
  std::vector<float> panel_scales_;
  std::vector<int32_t> panel_sums_;
  int32_t panel_sum_factor_ = 0;
  PanelActivations panel_{};
  bool has_panel_ = false;
  size_t row_bytes_ = 0;
  int64_t n_tokens_ = 0;
  int64_t k_ = 0;
  DType type_ = DType::F32;
};

// y[t * w.rows() + r] = dot(row r of w, token t of x) for rows [row_begin,
// row_end), with the kernels of `table`. `w` is a 2-D weight of shape
// {k, rows}; `repacked`, if not null, the same weights in the table's panel
// order (see repack_weights). Throws InvalidArgument if x was prepared for
// another activation format or length or the rows are not a range of w's,
// UnsupportedError if the table has no kernels for w's type.
void matmul_rows(const KernelTable& table, const TensorView& w, const PreparedActivations& x, float* y,
                 int64_t row_begin, int64_t row_end, const std::byte* repacked = nullptr);

// Whether `table` repacks weights like `w` (its type has a repacked panel
// kernel and its rows fill whole panels).
bool repacks(const KernelTable& table, const TensorView& w);
// Writes w's rows [row_begin, row_end) (multiples of the panel height) in
// the table's panel order into `out`, which holds w.bytes; only for weights
// that `repacks` accepts.
void repack_weights(const KernelTable& table, const TensorView& w, std::byte* out, int64_t row_begin, int64_t row_end);
// Rows per panel of `type` in `table`, or 0 if the table does not repack it.
int64_t panel_rows(const KernelTable& table, DType type);

// Multiply-adds a task of a parallel loop should hold at least: waking a
// thread and claiming a task cost a microsecond or two, about what a core
// does with this many, so a tiny model's work stays on the calling thread.
// (64K, with tasks of at least 64 rows, had split stories15M's 288 x 288
// projections 240 + 48 rows: two threads 7 % slower at decode on Zen 1.)
inline constexpr int64_t kMinTaskMacs = int64_t{1} << 15;

// Rows per task when a matmul of `tokens` x `k` activations is split over
// `threads`: as many tasks as hold kMinTaskMacs multiply-adds each, up to
// four per thread, equal in rows so they balance. A multiple of 16 keeps
// tiles whole and task outputs on separate cache lines.
int64_t matmul_rows_per_task(int64_t rows, int64_t k, int64_t tokens, int threads);

// All rows: y is x.tokens() x w.rows(), row-major.
void matmul(const KernelTable& table, const TensorView& w, const PreparedActivations& x, float* y);

// Expands one row of a 2-D tensor to floats (an embedding lookup) with
// `table`'s to_float. Throws InvalidArgument for a row out of range and
// UnsupportedError for a type without kernels.
void dequantize_row(const KernelTable& table, const TensorView& w, int64_t row, float* out);

}  // namespace ullm::kernels
