#include "support/test_support.hpp"

#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <memory>
#include <random>
#include <stdexcept>

#include "ullm/gguf.hpp"

namespace ullm::test {

std::filesystem::path shared_dir() {
  if (const char* env = std::getenv("ULLM_SHARED_DIR"); env != nullptr && *env != '\0') return env;
  return std::filesystem::path(ULLM_SOURCE_DIR) / ".." / "shared";
}

std::filesystem::path shared_path(const std::string& relative) {
  const auto p = shared_dir() / relative;
  if (!std::filesystem::exists(p)) {
    throw std::runtime_error("reference file missing: " + p.string() + " (set ULLM_SHARED_DIR to the shared folder)");
  }
  return p;
}

const Tokenizer& reference_vocab(const std::string& name) {
  struct Loaded {
    gguf::File file;
    Tokenizer tokenizer;
  };
  static std::map<std::string, std::unique_ptr<Loaded>> cache;
  auto& slot = cache[name];
  if (!slot) {
    auto file = gguf::File::open(shared_path("reference/tokenizer/ggml-vocab-" + name + ".gguf"));
    auto tokenizer = Tokenizer::from_gguf(file);
    slot = std::make_unique<Loaded>(Loaded{std::move(file), std::move(tokenizer)});
  }
  return slot->tokenizer;
}

std::vector<std::byte> load_bytes(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot open " + path.string());
  in.seekg(0, std::ios::end);
  std::vector<std::byte> out(static_cast<size_t>(in.tellg()));
  in.seekg(0);
  in.read(reinterpret_cast<char*>(out.data()), static_cast<std::streamsize>(out.size()));
  return out;
}

nlohmann::json load_json(const std::filesystem::path& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot open " + path.string());
  return nlohmann::json::parse(in);
}

std::vector<float> load_f32(const std::filesystem::path& path) {
  const auto bytes = load_bytes(path);
  std::vector<float> out(bytes.size() / sizeof(float));
  std::memcpy(out.data(), bytes.data(), out.size() * sizeof(float));
  return out;
}

std::vector<float> random_floats(size_t n, uint32_t seed, float scale) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.0f, scale);
  std::vector<float> v(n);
  for (auto& x : v) x = dist(rng);
  return v;
}

namespace {

struct TempDir {
  std::filesystem::path path;
  TempDir() {
    path = std::filesystem::temp_directory_path() / ("ullm-test-" + std::to_string(::getpid()));
    std::filesystem::create_directories(path);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
};

}  // namespace

std::filesystem::path temp_file(const std::string& name) {
  static const TempDir dir;  // immutable after first use; removed at exit
  return dir.path / name;
}

void write_bytes(const std::filesystem::path& path, const std::vector<std::byte>& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  if (!out) throw std::runtime_error("cannot write " + path.string());
}

}  // namespace ullm::test
