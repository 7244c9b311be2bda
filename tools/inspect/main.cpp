// ullm-inspect: print a GGUF file's metadata and tensor table.
#include <fmt/format.h>

#include "cli.hpp"
#include "ullm/ullm.hpp"

int main(int argc, char** argv) {
  std::string path;
  int max_items = 8;
  ullm::cli::ArgParser args("ullm-inspect", "Print a GGUF file's metadata and tensor table.");
  args.positional("MODEL", &path, "the GGUF file");
  args.option({"--items"}, &max_items, "N", "array items to show per key (default: 8)");
  args.parse(argc, argv);

  return ullm::cli::run_main("ullm-inspect", [&] {
    const ullm::gguf::File file = ullm::gguf::File::open(path);
    fmt::print("file: {} ({} bytes, GGUF v{}, alignment {}, data at {})\n", path, file.file_size(), file.version(),
               file.alignment(), file.data_offset());
    fmt::print("\nmetadata ({} keys):\n", file.metadata().size());
    for (const auto& kv : file.metadata()) {
      fmt::print("  {:<45} {}\n", kv.key, kv.value.to_string(static_cast<size_t>(std::max(0, max_items))));
    }
    fmt::print("\ntensors ({}):\n", file.tensors().size());
    size_t total = 0;
    for (const auto& t : file.tensors()) {
      fmt::print("  {:<36} {:<6} {:<22} {:>12} bytes\n", t.name, ullm::dtype_name(t.dtype), t.shape_string(), t.bytes);
      total += t.bytes;
    }
    fmt::print("\ntotal tensor data: {} bytes\n", total);
    return 0;
  });
}
