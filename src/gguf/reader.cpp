#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>
#include <algorithm>
#include <cerrno>
#include <cstring>
#include <limits>
#include <unordered_set>

#include "ullm/error.hpp"
#include "ullm/gguf.hpp"

namespace ullm::gguf {

// A read-only private mapping of a whole file; unmapped on destruction.
class Mapping {
 public:
  explicit Mapping(const std::filesystem::path& path) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      throw IoError(fmt::format("{}: cannot open: {}", path.string(), std::strerror(errno)));
    }
    struct stat st {};
    if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
      ::close(fd);
      throw IoError(fmt::format("{}: not a regular file", path.string()));
    }
    size_ = static_cast<size_t>(st.st_size);
    if (size_ > 0) {
      void* p = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd, 0);
      if (p == MAP_FAILED) {
        const int err = errno;
        ::close(fd);
        throw IoError(fmt::format("{}: cannot map: {}", path.string(), std::strerror(err)));
      }
      data_ = static_cast<const std::byte*>(p);
    }
    ::close(fd);
  }
  Mapping(const Mapping&) = delete;
  Mapping& operator=(const Mapping&) = delete;
  ~Mapping() {
    if (data_ != nullptr) ::munmap(const_cast<std::byte*>(data_), size_);
  }
  const std::byte* data() const { return data_; }
  size_t size() const { return size_; }
  void release(const std::byte* begin, size_t bytes) const {
    const auto page = static_cast<uintptr_t>(::sysconf(_SC_PAGESIZE));
    const auto lo = reinterpret_cast<uintptr_t>(begin), hi = lo + bytes;
    const uintptr_t first = (lo + page - 1) / page * page, last = hi / page * page;
    if (begin < data_ || hi > reinterpret_cast<uintptr_t>(data_) + size_ || first >= last) return;
    ::madvise(reinterpret_cast<void*>(first), last - first, MADV_DONTNEED);
  }

 private:
  const std::byte* data_ = nullptr;
  size_t size_ = 0;
};

namespace {

constexpr uint32_t kMagic = 0x46554747;  // "GGUF" read as little-endian
constexpr int kMaxArrayDepth = 8;
constexpr uint64_t kMaxStringBytes = uint64_t{1} << 30;
constexpr int64_t kMaxElements = int64_t{1} << 50;

}  // namespace

// Reads the header, metadata and tensor table, bounds-checking every read.
class Parser {
 public:
  Parser(const std::byte* data, size_t size, std::string file) : data_(data), size_(size), file_(std::move(file)) {}

  void parse(File& out) {
    if (size_ == 0) fail("empty file (not a GGUF file)");
    if (size_ < 4 || read<uint32_t>("magic") != kMagic) fail("bad magic: not a GGUF file");
    const uint32_t version = read<uint32_t>("version");
    if (version < 2 || version > 3) {
      throw UnsupportedError(fmt::format("{}: GGUF version {} is not supported (only 2 and 3)", file_, version));
    }
    out.version_ = version;
    const uint64_t n_tensors = read<uint64_t>("tensor count");
    const uint64_t n_kv = read<uint64_t>("metadata count");
    // Every key-value pair takes at least 12 bytes, every tensor entry 24:
    // a count beyond that cannot be honest.
    if (n_kv > remaining() / 12) fail(fmt::format("metadata count {} exceeds what the file can hold", n_kv));
    if (n_tensors > remaining() / 24) fail(fmt::format("tensor count {} exceeds what the file can hold", n_tensors));

    std::unordered_set<std::string> keys;
    out.metadata_.reserve(n_kv);
    for (uint64_t i = 0; i < n_kv; ++i) {
      std::string key = read_string(fmt::format("key of metadata entry {}", i));
      if (!keys.insert(key).second) fail(fmt::format("duplicate metadata key '{}'", key));
      const auto type = read_type(key);
      Value value = read_value(type, key, 0);
      out.metadata_.push_back({std::move(key), std::move(value)});
    }
    if (const Value* a = out.find("general.alignment")) {
      const int64_t alignment = a->as_int("general.alignment");
      // The spec asks for a multiple of 8; less would let tensor data sit
      // misaligned for its own element type.
      if (alignment < 8 || alignment > (1 << 16) || (alignment & (alignment - 1)) != 0) {
        fail(fmt::format("general.alignment {} is not a power of two in [8, 65536]", alignment));
      }
      out.alignment_ = static_cast<size_t>(alignment);
    }

    struct RawTensor {
      std::string name;
      DType dtype;
      int n_dims;
      std::array<int64_t, kMaxDims> shape;
      uint64_t offset;
      size_t bytes;
    };
    std::vector<RawTensor> raw;
    raw.reserve(n_tensors);
    std::unordered_set<std::string> names;
    for (uint64_t i = 0; i < n_tensors; ++i) {
      RawTensor t{};
      t.name = read_string(fmt::format("name of tensor {}", i));
      if (!names.insert(t.name).second) fail(fmt::format("duplicate tensor name '{}'", t.name));
      const uint32_t n_dims = read<uint32_t>(t.name);
      if (n_dims == 0 || n_dims > kMaxDims) {
        fail(fmt::format("tensor '{}' has {} dimensions (1 to {} allowed)", t.name, n_dims, kMaxDims));
      }
      t.n_dims = static_cast<int>(n_dims);
      t.shape = {1, 1, 1, 1};
      int64_t elements = 1;
      for (uint32_t d = 0; d < n_dims; ++d) {
        const uint64_t dim = read<uint64_t>(t.name);
        if (dim == 0 || dim > static_cast<uint64_t>(kMaxElements) ||
            static_cast<int64_t>(dim) > kMaxElements / elements) {
          fail(fmt::format("tensor '{}' has an absurd shape (dimension {} is {})", t.name, d, dim));
        }
        t.shape[d] = static_cast<int64_t>(dim);
        elements *= t.shape[d];
      }
      const uint32_t type_id = read<uint32_t>(t.name);
      const auto info = dtype_info(type_id);
      if (!info) {
        throw UnsupportedError(fmt::format("{}: tensor '{}' has unknown type id {}", file_, t.name, type_id));
      }
      t.dtype = static_cast<DType>(type_id);
      if (t.shape[0] % info->block_size != 0) {
        fail(fmt::format("tensor '{}': row length {} is not a multiple of the {} block size {}", t.name, t.shape[0],
                         info->name, info->block_size));
      }
      t.bytes = static_cast<size_t>(elements / info->block_size) * info->block_bytes;
      t.offset = read<uint64_t>(t.name);
      raw.push_back(std::move(t));
    }

    const size_t alignment = out.alignment_;
    const size_t data_offset = (pos_ + alignment - 1) / alignment * alignment;
    if (data_offset > size_ && !raw.empty()) fail("file ends before its tensor data section");
    const size_t data_size = data_offset <= size_ ? size_ - data_offset : 0;
    out.data_offset_ = data_offset;

    // Check each tensor lies inside the data section, aligned, and that no two overlap.
    std::vector<size_t> order(raw.size());
    for (size_t i = 0; i < order.size(); ++i) order[i] = i;
    for (const auto& t : raw) {
      if (t.offset % alignment != 0) {
        fail(fmt::format("tensor '{}' offset {} is not aligned to {}", t.name, t.offset, alignment));
      }
      if (t.offset > data_size || t.bytes > data_size - t.offset) {
        fail(fmt::format("tensor '{}' data [{}, +{}) lies past the end of the file (data section is {} bytes)", t.name,
                         t.offset, t.bytes, data_size));
      }
    }
    std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return raw[a].offset < raw[b].offset; });
    for (size_t i = 1; i < order.size(); ++i) {
      const auto& prev = raw[order[i - 1]];
      const auto& cur = raw[order[i]];
      if (prev.offset + prev.bytes > cur.offset) {
        fail(fmt::format("tensors '{}' and '{}' overlap", prev.name, cur.name));
      }
    }

    out.tensor_names_.reserve(raw.size());
    for (auto& t : raw) out.tensor_names_.push_back(std::move(t.name));
    out.tensors_.reserve(raw.size());
    for (size_t i = 0; i < raw.size(); ++i) {
      TensorView v;
      v.name = out.tensor_names_[i];
      v.dtype = raw[i].dtype;
      v.n_dims = raw[i].n_dims;
      v.shape = raw[i].shape;
      v.data = data_ + data_offset + raw[i].offset;
      v.bytes = raw[i].bytes;
      out.tensors_.push_back(v);
    }
  }

 private:
  [[noreturn]] void fail(const std::string& what) const { throw FormatError(fmt::format("{}: {}", file_, what)); }

  size_t remaining() const { return size_ - pos_; }

  void need(size_t n, std::string_view what) const {
    if (n > remaining()) {
      fail(
          fmt::format("truncated file: {} needs {} bytes at offset {} but only {} remain", what, n, pos_, remaining()));
    }
  }

  template <typename T>
  T read(std::string_view what) {
    need(sizeof(T), what);
    T v;
    std::memcpy(&v, data_ + pos_, sizeof(T));
    pos_ += sizeof(T);
    return v;
  }

  std::string read_string(std::string_view what) {
    const uint64_t n = read<uint64_t>(what);
    if (n > kMaxStringBytes || n > remaining()) {
      fail(fmt::format("{}: string length {} runs past the end of the file", what, n));
    }
    std::string s(reinterpret_cast<const char*>(data_ + pos_), static_cast<size_t>(n));
    pos_ += n;
    return s;
  }

  ValueType read_type(std::string_view key) {
    const uint32_t t = read<uint32_t>(key);
    if (t > static_cast<uint32_t>(ValueType::F64)) fail(fmt::format("key '{}' has unknown value type {}", key, t));
    return static_cast<ValueType>(t);
  }

  static size_t min_encoded_size(ValueType t) {
    switch (t) {
      case ValueType::U8:
      case ValueType::I8:
      case ValueType::Bool:
        return 1;
      case ValueType::U16:
      case ValueType::I16:
        return 2;
      case ValueType::U32:
      case ValueType::I32:
      case ValueType::F32:
        return 4;
      case ValueType::U64:
      case ValueType::I64:
      case ValueType::F64:
      case ValueType::String:
        return 8;
      case ValueType::Array:
        return 12;
    }
    return 1;
  }

  template <typename T>
  static Value make(T v) {
    return Value{Value::Storage(std::in_place_type<T>, std::move(v))};
  }

  Value read_value(ValueType type, const std::string& key, int depth) {
    switch (type) {
      case ValueType::U8:
        return make<uint8_t>(read<uint8_t>(key));
      case ValueType::I8:
        return make<int8_t>(read<int8_t>(key));
      case ValueType::U16:
        return make<uint16_t>(read<uint16_t>(key));
      case ValueType::I16:
        return make<int16_t>(read<int16_t>(key));
      case ValueType::U32:
        return make<uint32_t>(read<uint32_t>(key));
      case ValueType::I32:
        return make<int32_t>(read<int32_t>(key));
      case ValueType::F32:
        return make<float>(read<float>(key));
      case ValueType::U64:
        return make<uint64_t>(read<uint64_t>(key));
      case ValueType::I64:
        return make<int64_t>(read<int64_t>(key));
      case ValueType::F64:
        return make<double>(read<double>(key));
      case ValueType::Bool: {
        const uint8_t b = read<uint8_t>(key);
        if (b > 1) fail(fmt::format("key '{}': boolean byte {} is neither 0 nor 1", key, b));
        return make<bool>(b == 1);
      }
      case ValueType::String:
        return make<std::string>(read_string(key));
      case ValueType::Array: {
        if (depth >= kMaxArrayDepth) fail(fmt::format("key '{}': arrays nested deeper than {}", key, kMaxArrayDepth));
        Array array;
        array.element_type = read_type(key);
        const uint64_t count = read<uint64_t>(key);
        if (count > remaining() / min_encoded_size(array.element_type)) {
          fail(fmt::format("key '{}': array of {} elements runs past the end of the file", key, count));
        }
        array.items.reserve(count);
        for (uint64_t i = 0; i < count; ++i) array.items.push_back(read_value(array.element_type, key, depth + 1));
        return make<Array>(std::move(array));
      }
    }
    fail(fmt::format("key '{}' has unknown value type", key));
  }

  const std::byte* data_;
  size_t size_;
  size_t pos_ = 0;
  std::string file_;
};

File File::open(const std::filesystem::path& path) {
  File f;
  f.path_ = path;
  f.mapping_ = std::make_unique<Mapping>(path);
  Parser(f.mapping_->data(), f.mapping_->size(), path.string()).parse(f);
  return f;
}

File::File(File&&) noexcept = default;
File& File::operator=(File&&) noexcept = default;
File::~File() = default;

void File::release(const std::byte* data, size_t bytes) const {
  if (mapping_ != nullptr) mapping_->release(data, bytes);
}

size_t File::file_size() const {
  return mapping_ ? mapping_->size() : 0;
}

const Value* File::find(std::string_view key) const {
  for (const auto& kv : metadata_) {
    if (kv.key == key) return &kv.value;
  }
  return nullptr;
}

const TensorView* File::find_tensor(std::string_view name) const {
  for (const auto& t : tensors_) {
    if (t.name == name) return &t;
  }
  return nullptr;
}

}  // namespace ullm::gguf
