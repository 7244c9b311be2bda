// ullm-tokenize: print the token ids of a text, one per line.
#include <fmt/format.h>

#include "cli.hpp"
#include "ullm/ullm.hpp"

int main(int argc, char** argv) {
  std::string model_path, text;
  bool no_bos = false, no_parse_special = false, pieces = false;
  ullm::cli::ArgParser args("ullm-tokenize", "Print the token ids of a text, one per line.");
  args.option({"-m", "--model"}, &model_path, "PATH",
              fmt::format("model or vocab file (default: $ULLM_MODEL, else {})", ullm::cli::kDefaultModel));
  args.option({"-p", "--prompt"}, &text, "TEXT", "the text to tokenize");
  args.flag({"--no-bos"}, &no_bos, "do not add BOS even if the vocabulary asks for it");
  args.flag({"--no-parse-special"}, &no_parse_special, "tokenize control-token text such as <s> as plain characters");
  args.flag({"--pieces"}, &pieces, "print each id with its vocabulary string");
  args.parse(argc, argv);

  return ullm::cli::run_main("ullm-tokenize", [&] {
    const ullm::gguf::File file = ullm::gguf::File::open(ullm::cli::resolve_model_path(model_path));
    const ullm::Tokenizer tokenizer = ullm::Tokenizer::from_gguf(file);
    const auto ids = tokenizer.encode(text, {.add_special = !no_bos, .parse_special = !no_parse_special});
    for (ullm::Token t : ids) {
      if (pieces) {
        fmt::print("{}\t{}\n", t, tokenizer.token_text(t));
      } else {
        fmt::print("{}\n", t);
      }
    }
    return 0;
  });
}
