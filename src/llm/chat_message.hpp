// One message of a chat-style LLM request, shared by the prompt builder and the providers that
// serialise it to their wire formats.
#pragma once

#include <string>

namespace ragd::llm {

struct ChatMessage {
    std::string role;  ///< "system", "user" or "assistant", as the chat APIs spell them
    std::string content;
};

}  // namespace ragd::llm
