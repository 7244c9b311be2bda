// Each template against the text its Jinja source (../shared/reference/
// chat-templates) renders for one multi-turn conversation with a system
// message; the expected strings were worked out by hand from those sources.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "support/test_support.hpp"
#include "ullm/chat.hpp"
#include "ullm/error.hpp"

namespace ullm {
namespace {

const std::vector<ChatMessage> kChat = {
    {"system", "You are terse."},
    {"user", "Hi there"},
    {"assistant", "Hello! "},
    {"user", " What is 2+2?\n"},
};

std::string read_template(const std::string& file) {
  std::ifstream in(test::shared_path("reference/chat-templates/" + file));
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

ChatTemplate detected(const std::string& file, const std::string& bos = "", const std::string& eos = "") {
  ChatTemplate t = ChatTemplate::detect(read_template(file));
  t.set_special_tokens(bos, eos);
  return t;
}

TEST(ChatTemplate, Qwen25) {
  const ChatTemplate t = detected("Qwen-Qwen2.5-7B-Instruct.jinja");
  EXPECT_EQ(t.name(), "qwen2.5");
  EXPECT_EQ(t.apply(kChat),
            "<|im_start|>system\nYou are terse.<|im_end|>\n<|im_start|>user\nHi there<|im_end|>\n"
            "<|im_start|>assistant\nHello! <|im_end|>\n<|im_start|>user\n What is 2+2?\n<|im_end|>\n"
            "<|im_start|>assistant\n");
  // No system message: Qwen's default one.
  const std::vector<ChatMessage> bare(kChat.begin() + 1, kChat.begin() + 2);
  EXPECT_EQ(t.apply(bare, {.add_generation_prompt = false}),
            "<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\n"
            "<|im_start|>user\nHi there<|im_end|>\n");
}

TEST(ChatTemplate, Qwen3) {
  const ChatTemplate t = detected("Qwen-Qwen3-0.6B.jinja");
  EXPECT_EQ(t.name(), "qwen3");
  std::vector<ChatMessage> chat = kChat;
  chat[2].content = "<think>\nadding\n</think>\n\nHello! ";  // history drops the reasoning
  EXPECT_EQ(t.apply(chat, {.enable_thinking = false}),
            "<|im_start|>system\nYou are terse.<|im_end|>\n<|im_start|>user\nHi there<|im_end|>\n"
            "<|im_start|>assistant\nHello! <|im_end|>\n<|im_start|>user\n What is 2+2?\n<|im_end|>\n"
            "<|im_start|>assistant\n<think>\n\n</think>\n\n");
  // A reply after the last user turn keeps its reasoning.
  chat.push_back({"assistant", "<think>\n2 and 2\n</think>\n\n4"});
  EXPECT_EQ(t.apply(std::span(chat).subspan(2), {.add_generation_prompt = false}),
            "<|im_start|>assistant\nHello! <|im_end|>\n<|im_start|>user\n What is 2+2?\n<|im_end|>\n"
            "<|im_start|>assistant\n<think>\n2 and 2\n</think>\n\n4<|im_end|>\n");
}

TEST(ChatTemplate, Llama32) {
  const ChatTemplate t = detected("meta-llama-Llama-3.2-3B-Instruct.jinja", "<|begin_of_text|>");
  EXPECT_EQ(t.name(), "llama3.1");
  EXPECT_EQ(t.apply(kChat, {.date = "2026-11-25"}),
            "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nCutting Knowledge Date: December 2023\n"
            "Today Date: 25 Nov 2026\n\nYou are terse.<|eot_id|><|start_header_id|>user<|end_header_id|>\n\n"
            "Hi there<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\nHello!<|eot_id|>"
            "<|start_header_id|>user<|end_header_id|>\n\nWhat is 2+2?<|eot_id|>"
            "<|start_header_id|>assistant<|end_header_id|>\n\n");
}

TEST(ChatTemplate, Gemma) {
  const ChatTemplate t = detected("google-gemma-2-2b-it.jinja", "<bos>");
  EXPECT_EQ(t.name(), "gemma");
  const std::vector<ChatMessage> no_system(kChat.begin() + 1, kChat.end());
  EXPECT_EQ(t.apply(no_system),
            "<bos><start_of_turn>user\nHi there<end_of_turn>\n<start_of_turn>model\nHello!<end_of_turn>\n"
            "<start_of_turn>user\nWhat is 2+2?<end_of_turn>\n<start_of_turn>model\n");
  // The template refuses a system role; ullm opens the first user turn with it.
  EXPECT_EQ(t.apply(kChat, {.add_generation_prompt = false}),
            "<bos><start_of_turn>user\nYou are terse.\n\nHi there<end_of_turn>\n<start_of_turn>model\nHello!"
            "<end_of_turn>\n<start_of_turn>user\nWhat is 2+2?<end_of_turn>\n");
}

TEST(ChatTemplate, Phi35) {
  const ChatTemplate t = detected("microsoft-Phi-3.5-mini-instruct.jinja", "<s>", "<|endoftext|>");
  EXPECT_EQ(t.name(), "phi3");
  EXPECT_EQ(t.apply(kChat),
            "<|system|>\nYou are terse.<|end|>\n<|user|>\nHi there<|end|>\n<|assistant|>\nHello! <|end|>\n"
            "<|user|>\n What is 2+2?\n<|end|>\n<|assistant|>\n");
  EXPECT_EQ(t.apply(std::span(kChat).subspan(1, 1), {.add_generation_prompt = false}),
            "<|user|>\nHi there<|end|>\n<|endoftext|>");
}

TEST(ChatTemplate, DeepSeekR1) {
  const ChatTemplate t = detected("deepseek-ai-DeepSeek-R1-Distill-Qwen-32B.jinja", "<｜begin▁of▁sentence｜>");
  EXPECT_EQ(t.name(), "deepseek-r1");
  std::vector<ChatMessage> chat = kChat;
  chat[2].content = "<think>\nadding\n</think>\n\nHello! ";
  EXPECT_EQ(t.apply(chat),
            "<｜begin▁of▁sentence｜>You are terse.<｜User｜>Hi there<｜Assistant｜>\n\nHello! "
            "<｜end▁of▁sentence｜><｜User｜> What is 2+2?\n<｜Assistant｜><think>\n");
}

TEST(ChatTemplate, Granite33) {
  const ChatTemplate t = detected("ibm-granite-granite-3.3-2B-Instruct.jinja", "<|end_of_text|>");
  EXPECT_EQ(t.name(), "granite");
  EXPECT_EQ(t.apply(kChat),
            "<|start_of_role|>system<|end_of_role|>You are terse.<|end_of_text|>\n"
            "<|start_of_role|>user<|end_of_role|>Hi there<|end_of_text|>\n"
            "<|start_of_role|>assistant<|end_of_role|>Hello! <|end_of_text|>\n"
            "<|start_of_role|>user<|end_of_role|> What is 2+2?\n<|end_of_text|>\n"
            "<|start_of_role|>assistant<|end_of_role|>");
  // No system message: the default one, dated as strftime('%B %d, %Y').
  EXPECT_EQ(t.apply(std::span(kChat).subspan(1, 1), {.date = "2024-07-05"}),
            "<|start_of_role|>system<|end_of_role|>Knowledge Cutoff Date: April 2024. Today's Date: July 05, 2024. "
            "You are Granite, developed by IBM. You are a helpful AI assistant.<|end_of_text|>\n"
            "<|start_of_role|>user<|end_of_role|>Hi there<|end_of_text|>\n<|start_of_role|>assistant<|end_of_role|>");
  // A lone system message is not followed by a reply opening.
  EXPECT_EQ(t.apply(std::span(kChat).subspan(0, 1)),
            "<|start_of_role|>system<|end_of_role|>You are terse.<|end_of_text|>\n");
}

TEST(ChatTemplate, SmolLM3) {
  const ChatTemplate t = detected("HuggingFaceTB-SmolLM3-3B.jinja");
  EXPECT_EQ(t.name(), "smollm3");
  const std::string header = "<|im_start|>system\n## Metadata\n\nKnowledge Cutoff Date: June 2025\n";
  EXPECT_EQ(t.apply(kChat), header +
                                "Reasoning Mode: /think\n\n## Custom Instructions\n\nYou are terse.\n\n<|im_end|>\n"
                                "<|im_start|>user\nHi there<|im_end|>\n<|im_start|>assistant\nHello! <|im_end|>\n"
                                "<|im_start|>user\n What is 2+2?\n<|im_end|>\n<|im_start|>assistant\n");
  // No thinking: every reply, and the opening of the next, carries an empty think block.
  std::vector<ChatMessage> chat(kChat.begin() + 1, kChat.end());
  chat[1].content = "\n\nHello!";
  EXPECT_EQ(t.apply(chat, {.enable_thinking = false}),
            header +
                "Reasoning Mode: /no_think\n\n## Custom Instructions\n\nYou are a helpful AI assistant named "
                "SmolLM, trained by Hugging Face.\n\n<|im_end|>\n<|im_start|>user\nHi there<|im_end|>\n"
                "<|im_start|>assistant\n<think>\n\n</think>\nHello!<|im_end|>\n<|im_start|>user\n What is 2+2?\n"
                "<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n");
  // "/think" in the system message wins over the option and is cut from it.
  const std::vector<ChatMessage> switched = {{"system", "Be brief. /think  "}, {"user", "Hi"}};
  EXPECT_EQ(t.apply(switched, {.add_generation_prompt = false, .enable_thinking = false}),
            header +
                "Reasoning Mode: /think\n\n## Custom Instructions\n\nBe brief.\n\n<|im_end|>\n"
                "<|im_start|>user\nHi<|im_end|>\n");
}

TEST(ChatTemplate, UnsupportedTemplatesAndBadInputAreClearErrors) {
  try {
    ChatTemplate::detect("{{ messages }}");
    ADD_FAILURE() << "detected";
  } catch (const UnsupportedError& e) {
    EXPECT_NE(std::string(e.what()).find("--chat-template"), std::string::npos) << e.what();
  }
  EXPECT_THROW(ChatTemplate::named("llama3.1").apply(kChat, {.date = "25 Nov 2026"}), InvalidArgument);
  EXPECT_THROW(ChatTemplate::named("vicuna"), UnsupportedError);
  const ChatTemplate t = ChatTemplate::named("chatml");
  EXPECT_THROW(t.apply(std::vector<ChatMessage>{}), InvalidArgument);
  EXPECT_THROW(t.apply(std::vector<ChatMessage>{{"tool", "x"}}), InvalidArgument);
  EXPECT_EQ(t.apply(std::vector<ChatMessage>{{"user", "a"}}), "<|im_start|>user\na<|im_end|>\n<|im_start|>assistant\n");
}

}  // namespace
}  // namespace ullm
