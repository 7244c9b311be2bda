#include <fmt/format.h>
#include <cstring>
#include <fstream>

#include "ullm/error.hpp"
#include "ullm/gguf.hpp"

namespace ullm::gguf {
namespace {

class ByteSink {
 public:
  template <typename T>
  void put(T v) {
    const size_t at = out_.size();
    out_.resize(at + sizeof(T));
    std::memcpy(out_.data() + at, &v, sizeof(T));
  }
  void put_string(const std::string& s) {
    put<uint64_t>(s.size());
    const size_t at = out_.size();
    out_.resize(at + s.size());
    std::memcpy(out_.data() + at, s.data(), s.size());
  }
  void put_value(const Value& value) {
    std::visit(
        [&](const auto& v) {
          using T = std::decay_t<decltype(v)>;
          if constexpr (std::is_same_v<T, std::string>) {
            put_string(v);
          } else if constexpr (std::is_same_v<T, Array>) {
            put<uint32_t>(static_cast<uint32_t>(v.element_type));
            put<uint64_t>(v.items.size());
            for (const auto& item : v.items) put_value(item);
          } else if constexpr (std::is_same_v<T, bool>) {
            put<uint8_t>(v ? 1 : 0);
          } else {
            put<T>(v);
          }
        },
        value.storage);
  }
  void pad_to(size_t alignment) { out_.resize((out_.size() + alignment - 1) / alignment * alignment); }
  size_t size() const { return out_.size(); }
  void append(std::span<const std::byte> b) { out_.insert(out_.end(), b.begin(), b.end()); }
  std::vector<std::byte> take() { return std::move(out_); }

 private:
  std::vector<std::byte> out_;
};

}  // namespace

Writer::Writer(size_t alignment) : alignment_(alignment) {
  if (alignment < 8 || (alignment & (alignment - 1)) != 0) {
    throw InvalidArgument(fmt::format("GGUF alignment {} is not a power of two of at least 8", alignment));
  }
  if (alignment != 32) set("general.alignment", Value{Value::Storage(std::in_place_type<uint32_t>, alignment)});
}

void Writer::set(std::string key, Value value) {
  for (auto& kv : metadata_) {
    if (kv.key == key) {
      kv.value = std::move(value);
      return;
    }
  }
  metadata_.push_back({std::move(key), std::move(value)});
}

void Writer::add_tensor(std::string name, DType dtype, std::span<const int64_t> shape,
                        std::span<const std::byte> data) {
  const DTypeInfo info = dtype_info(dtype);
  if (shape.empty() || shape.size() > kMaxDims) {
    throw InvalidArgument(fmt::format("tensor '{}': {} dimensions", name, shape.size()));
  }
  int64_t elements = 1;
  for (int64_t d : shape) elements *= d;
  if (shape[0] % info.block_size != 0) {
    throw InvalidArgument(
        fmt::format("tensor '{}': row length {} is not a multiple of {}", name, shape[0], info.block_size));
  }
  const size_t expected = static_cast<size_t>(elements / info.block_size) * info.block_bytes;
  if (data.size() != expected) {
    throw InvalidArgument(fmt::format("tensor '{}': {} bytes given, {} expected", name, data.size(), expected));
  }
  tensors_.push_back({std::move(name), dtype, {shape.begin(), shape.end()}, {data.begin(), data.end()}});
}

std::vector<std::byte> Writer::bytes() const {
  ByteSink s;
  s.put<uint32_t>(0x46554747);
  s.put<uint32_t>(3);
  s.put<uint64_t>(tensors_.size());
  s.put<uint64_t>(metadata_.size());
  for (const auto& kv : metadata_) {
    s.put_string(kv.key);
    s.put<uint32_t>(static_cast<uint32_t>(kv.value.type()));
    s.put_value(kv.value);
  }
  uint64_t offset = 0;
  for (const auto& t : tensors_) {
    s.put_string(t.name);
    s.put<uint32_t>(static_cast<uint32_t>(t.shape.size()));
    for (int64_t d : t.shape) s.put<uint64_t>(static_cast<uint64_t>(d));
    s.put<uint32_t>(static_cast<uint32_t>(t.dtype));
    s.put<uint64_t>(offset);
    offset += (t.data.size() + alignment_ - 1) / alignment_ * alignment_;
  }
  s.pad_to(alignment_);
  for (const auto& t : tensors_) {
    s.append(t.data);
    s.pad_to(alignment_);
  }
  return s.take();
}

void Writer::write(const std::filesystem::path& path) const {
  const auto data = bytes();
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) throw IoError(fmt::format("{}: cannot open for writing", path.string()));
  out.write(reinterpret_cast<const char*>(data.data()), static_cast<std::streamsize>(data.size()));
  if (!out) throw IoError(fmt::format("{}: write failed", path.string()));
}

}  // namespace ullm::gguf
