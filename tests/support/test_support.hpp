// Helpers shared by the test suites: where the reference data lives, and
// small readers for it.
#pragma once

#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "ullm/tokenizer.hpp"

namespace ullm::test {

// ../shared beside the project root, or $ULLM_SHARED_DIR.
std::filesystem::path shared_dir();
std::filesystem::path shared_path(const std::string& relative);

// The tokenizer of ../shared/reference/tokenizer/ggml-vocab-NAME.gguf, loaded
// once per test process.
const Tokenizer& reference_vocab(const std::string& name);

nlohmann::json load_json(const std::filesystem::path& path);
std::vector<float> load_f32(const std::filesystem::path& path);
std::vector<std::byte> load_bytes(const std::filesystem::path& path);

// n normally distributed floats (mean 0, standard deviation `scale`), seeded.
std::vector<float> random_floats(size_t n, uint32_t seed, float scale = 1.0f);

// A fresh file path in a per-process temporary directory, removed at exit.
std::filesystem::path temp_file(const std::string& name);
void write_bytes(const std::filesystem::path& path, const std::vector<std::byte>& bytes);

}  // namespace ullm::test
