// libFuzzer target: any bytes as text for every vocabulary in
// ULLM_FUZZ_VOCABS (a directory of GGUF vocabularies, e.g.
// ../shared/reference/tokenizer). Encoding must give ids in the vocabulary,
// decoding them and streaming them must not fail.
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <stdexcept>
#include <string_view>
#include <ullm/ullm.hpp>
#include <vector>

namespace {

struct Vocabulary {
  ullm::gguf::File file;
  ullm::Tokenizer tokenizer;
};

std::vector<Vocabulary> load_vocabularies() {
  const char* dir = std::getenv("ULLM_FUZZ_VOCABS");
  if (dir == nullptr) throw std::runtime_error("set ULLM_FUZZ_VOCABS to a directory of GGUF vocabularies");
  // In name order, so that an input picks the same vocabulary on every machine.
  std::vector<std::filesystem::path> paths;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    if (entry.path().extension() == ".gguf") paths.push_back(entry.path());
  }
  std::ranges::sort(paths);
  std::vector<Vocabulary> vocabularies;
  for (const auto& path : paths) {
    try {
      ullm::gguf::File file = ullm::gguf::File::open(path);
      ullm::Tokenizer tokenizer = ullm::Tokenizer::from_gguf(file);
      vocabularies.push_back({std::move(file), std::move(tokenizer)});
    } catch (const ullm::UnsupportedError&) {  // a tokenizer model ullm does not run
    }
  }
  if (vocabularies.empty()) throw std::runtime_error("no vocabulary ullm runs in ULLM_FUZZ_VOCABS");
  return vocabularies;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::vector<Vocabulary> vocabularies = load_vocabularies();
  if (size == 0) return 0;
  // The first byte picks the vocabulary and the options, the rest is the text.
  const Vocabulary& vocabulary = vocabularies[data[0] % vocabularies.size()];
  const std::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);
  ullm::EncodeOptions options;
  options.add_special = (data[0] & 0x40) != 0;
  options.parse_special = (data[0] & 0x80) != 0;
  const std::vector<ullm::Token> ids = vocabulary.tokenizer.encode(text, options);
  for (const ullm::Token id : ids) {
    if (id < 0 || id >= vocabulary.tokenizer.vocab_size()) __builtin_trap();
  }
  (void)vocabulary.tokenizer.decode(ids);
  ullm::StreamingDecoder stream(vocabulary.tokenizer);
  for (const ullm::Token id : ids) (void)stream.push(id);
  (void)stream.finish();
  return 0;
}
