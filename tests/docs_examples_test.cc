// Every command example in README.md and docs/*.md runs as written against a fresh server with
// the built-in engine (what `make run` starts): each `curl ...` and `verso ...` line of a code
// block (with its continuation lines) must exit 0, curl failing on any HTTP error. The examples
// run as written: `curl` and `verso` on PATH are wrappers that point them at this test's server
// and data directory (curl's --connect-to keeps "localhost:8080" in the command). What a reader
// substitutes is substituted: `tm_...` (an English→Spanish store holding "Save the file"),
// `job_...` (a job of guide.xlf waiting for post-editing), `key_...` (a key to revoke) and
// `usr_...` (a post-editor, lee@example.com); the
// files the examples name (guide.xlf, memory.tmx) are in the directory they run in.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "tests/http_client.h"
#include "tests/process.h"
#include "tests/verso_server.h"

namespace verso {
namespace {

using json = nlohmann::json;
using ::testing::HasSubstr;

struct Example {
  std::string where;  // "docs/jobs.md:10"
  std::string command;
};

bool StartsCommand(const std::string& line) {
  return line.rfind("curl ", 0) == 0 || line.rfind("verso ", 0) == 0;
}

// Whether `command` ends inside a quoted string (shell quoting: '...', "..." with \ escapes,
// and # comments outside quotes).
bool OpenQuote(const std::string& command) {
  char quote = 0;
  bool comment = false;
  for (size_t i = 0; i < command.size(); ++i) {
    const char c = command[i];
    if (comment) {
      comment = c != '\n';
    } else if (quote == '\'') {
      if (c == '\'') quote = 0;
    } else if (quote == '"') {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        quote = 0;
      }
    } else if (c == '\'' || c == '"') {
      quote = c;
    } else if (c == '\\') {
      ++i;
    } else if (c == '#' && (i == 0 || command[i - 1] == ' ')) {
      comment = true;
    }
  }
  return quote != 0;
}

// The command examples of one Markdown file: in ``` blocks that start with a command, lines
// starting with `curl ` or `verso `, continued by a trailing backslash or an open single quote.
// (Blocks of output, such as a benchmark's table of "verso ..." rows, start otherwise.)
std::vector<Example> Extract(const std::string& root, const std::string& file) {
  std::ifstream in(root + "/" + file);
  std::vector<Example> out;
  std::string line;
  bool in_block = false;
  bool commands = false;  // the block's first line is a command
  bool first = false;
  bool continuing = false;
  int number = 0;
  while (std::getline(in, line)) {
    ++number;
    if (line.rfind("```", 0) == 0) {
      in_block = !in_block;
      first = in_block;
      continuing = false;
      continue;
    }
    if (!in_block) continue;
    if (first) {
      commands = StartsCommand(line);
      first = false;
    }
    if (!commands) continue;
    if (continuing) {
      out.back().command += "\n" + line;
    } else if (StartsCommand(line)) {
      out.push_back({file + ":" + std::to_string(number), line});
    } else {
      continue;
    }
    continuing = OpenQuote(out.back().command) || (!line.empty() && line.back() == '\\');
  }
  return out;
}

void Replace(std::string* s, const std::string& from, const std::string& to) {
  for (size_t at = s->find(from); at != std::string::npos; at = s->find(from, at + to.size())) {
    s->replace(at, from.size(), to);
  }
}

void WriteExecutable(const std::string& path, const std::string& text) {
  std::ofstream(path) << text;
  std::filesystem::permissions(path, std::filesystem::perms::owner_all);
}

// guide.xlf: the document the jobs examples submit; unit 3 holds the <g id="1"> that the
// confirm example's target keeps.
constexpr const char* kGuide = R"(<?xml version="1.0" encoding="UTF-8"?>
<xliff version="1.2" xmlns="urn:oasis:names:tc:xliff:document:1.2">
 <file original="guide.txt" source-language="en" datatype="plaintext">
  <body>
   <trans-unit id="1"><source>Save the file</source></trans-unit>
   <trans-unit id="2"><source>The printer is ready.</source></trans-unit>
   <trans-unit id="3"><source>Close the door.</source></trans-unit>
   <trans-unit id="4"><source>Open the <g id="1">window</g>.</source></trans-unit>
  </body>
 </file>
</xliff>
)";

constexpr const char* kMemory = R"(<?xml version="1.0" encoding="UTF-8"?>
<tmx version="1.4">
 <header creationtool="docs" creationtoolversion="1" segtype="sentence" o-tmf="none"
         adminlang="en" srclang="en" datatype="plaintext"/>
 <body>
  <tu><tuv xml:lang="en"><seg>Could not open the file %s</seg></tuv>
      <tuv xml:lang="es"><seg>No se pudo abrir el fichero %s</seg></tuv></tu>
  <tu><tuv xml:lang="en"><seg>The hard disk is full.</seg></tuv>
      <tuv xml:lang="es"><seg>El disco duro está lleno.</seg></tuv></tu>
 </body>
</tmx>
)";

// file, a part of the command, a part of what it prints.
const std::vector<std::tuple<std::string, std::string, std::string>> kDocumentedAnswers = {
    {"docs/mt.md", "engine_policy", R"("text":"Guarda el fichero","tm":{"score":100,)"},
    {"docs/mt.md", "engine_policy", R"("engine":"apertium","model":"eng-spa","origin":"mt")"},
    {"docs/mt.md", "engine_policy", R"("text":"Abierto la lima")"},
    {"README.md", "tm lookup", "No se pudo abrir el fichero %s"},
    {"README.md", "tm concordance", "[hard disk]"},
    {"README.md",
     "Bearer $KEY\" -H 'Content-Type: application/json' \\\n     -d '{\"source_lang\":\"en\"",
     R"("origin":"mt")"},
    {"docs/api.md", "match=prefix", R"("in":"source")"},
    {"docs/operations.md", "audit verify", "audit log intact: "},
    {"docs/operations.md", "notice show", "Temporary latency increase expected"},
    {"docs/users.md", "-b cookies.txt localhost:8080/v1/session", R"("email":"ana@example.com")"},
    {"docs/users.md", "cookies.txt localhost:8080/v1/post-edits", R"("job_id":")"},
    {"docs/users.md", "-s localhost:8080/v1/jobs/",
     R"({"from":0,"target_lang":"es","to":1,"user_id":"usr_)"},
    {"docs/workbench.md", "/check", R"("message":"numbers not in the source: 2")"},
    {"docs/workbench.md", "edit_id", R"("version":1)"},
};

class DocsExamplesTest : public test::ServerTest {
 protected:
  DocsExamplesTest() : ServerTest("docs_examples") {}

  // Runs `command` with the wrappers first on PATH, in work_, with $KEY set.
  test::RunResult Shell(const std::string& command) {
    return test::Run({"/bin/bash", "-c", "cd '" + work_ + "' && " + command},
                     {"PATH=" + work_ + "/bin:" + std::getenv("PATH"), "KEY=" + key_});
  }
  json Api(const std::string& method, const std::string& path, const std::string& body = "") {
    std::vector<std::pair<std::string, std::string>> headers = {
        {"Authorization", "Bearer " + key_}};
    if (!body.empty()) headers.emplace_back("Content-Type", "application/json");
    test::HttpResponse r = test::Fetch(server_->port(), method, path, body, headers);
    EXPECT_LT(r.status, 300) << method << " " << path << ": " << r.body;
    return json::parse(r.body, nullptr, false);
  }

  std::string work_, key_;
};

TEST_F(DocsExamplesTest, EveryCommandInTheReadmeAndDocsRunsAsWritten) {
  Start();
  ASSERT_NE(server_->port(), 0);
  // What `make run` prints on a first start: an admin key of tenant "default".
  key_ = test::CreateKey(dir_, "default", "admin");
  work_ = dir_ + "/work";
  std::filesystem::create_directories(work_ + "/bin");
  const std::string port = std::to_string(server_->port());
  WriteExecutable(work_ + "/bin/curl",
                  "#!/bin/sh\nexec /usr/bin/curl -sS --fail-with-body --max-time 60 "
                  "--connect-to localhost:8080:127.0.0.1:" +
                      port + " --connect-to 127.0.0.1:8080:127.0.0.1:" + port + " \"$@\"\n");
  // (On the PostgreSQL backend the directory names its database: tests/verso_server.h.)
  WriteExecutable(work_ + "/bin/verso",
                  "#!/bin/sh\nif [ -f '" + dir_ +
                      "/.storage_url' ]; then export VERSO_STORAGE_URL=\"$(cat '" + dir_ +
                      "/.storage_url')\"; fi\nexec " + VERSO_BINARY + " --data-dir '" + dir_ +
                      "' --log-level warn \"$@\"\n");
  std::ofstream(work_ + "/guide.xlf") << kGuide;
  std::ofstream(work_ + "/memory.tmx") << kMemory;

  // What a reader substitutes.
  json store =
      Api("POST", "/v1/tm", R"({"name":"examples","source_lang":"en","target_lang":"es"})");
  const std::string tm = store.value("id", "");
  Api("POST", "/v1/tm/" + tm + "/segments",
      R"({"source":"Save the file","target":"Guarda el fichero"})");
  const std::string boundary = "docs-examples";
  test::HttpResponse submitted = test::Fetch(
      server_->port(), "POST", "/v1/jobs",
      "--" + boundary +
          "\r\nContent-Disposition: form-data; name=\"target_langs\"\r\n\r\nes\r\n--" + boundary +
          "\r\nContent-Disposition: form-data; name=\"file\"; filename=\"guide.xlf\"\r\n\r\n" +
          kGuide + "\r\n--" + boundary + "--\r\n",
      {{"Authorization", "Bearer " + key_},
       {"Content-Type", "multipart/form-data; boundary=" + boundary}});
  ASSERT_EQ(submitted.status, 202) << submitted.body;
  const std::string job = json::parse(submitted.body)["id"];
  for (int i = 0; i < 600 && Api("GET", "/v1/jobs/" + job).value("status", "") != "post_editing";
       ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_EQ(Api("GET", "/v1/jobs/" + job)["status"], "post_editing");
  auto revocable = Shell("verso keys create --tenant default --scopes tm:read --json");
  ASSERT_EQ(revocable.exit_code, 0) << revocable.err;
  const std::string key_id = json::parse(revocable.out).value("id", "");
  ASSERT_EQ(key_id.rfind("key_", 0), 0u) << revocable.out;
  auto user = Shell("verso users add --tenant default --email lee@example.com --json");
  ASSERT_EQ(user.exit_code, 0) << user.err;
  const std::string user_id = json::parse(user.out).value("id", "");
  ASSERT_EQ(user_id.rfind("usr_", 0), 0u) << user.out;

  std::vector<std::string> files = {"README.md"};
  for (const auto& entry :
       std::filesystem::directory_iterator(std::string(VERSO_SOURCE_DIR) + "/docs")) {
    if (entry.path().extension() == ".md")
      files.push_back("docs/" + entry.path().filename().string());
  }
  std::sort(files.begin() + 1, files.end());
  std::map<std::string, int> counted;
  std::vector<int> answers_checked(kDocumentedAnswers.size());
  for (const std::string& file : files) {
    for (Example& e : Extract(VERSO_SOURCE_DIR, file)) {
      Replace(&e.command, "tm_...", tm);
      Replace(&e.command, "job_...", job);
      Replace(&e.command, "key_...", key_id);
      Replace(&e.command, "usr_...", user_id);
      test::RunResult r = Shell(e.command);
      EXPECT_EQ(r.exit_code, 0) << e.where << ": " << e.command << "\nstdout: " << r.out
                                << "\nstderr: " << r.err;
      ++counted[file];
      // What the docs say some of them answer.
      for (size_t i = 0; i < kDocumentedAnswers.size(); ++i) {
        const auto& [in_file, command_part, answer] = kDocumentedAnswers[i];
        if (file == in_file && e.command.find(command_part) != std::string::npos) {
          EXPECT_THAT(r.out, HasSubstr(answer)) << e.where << ": " << e.command;
          ++answers_checked[i];
        }
      }
    }
  }
  for (size_t i = 0; i < kDocumentedAnswers.size(); ++i) {
    EXPECT_EQ(answers_checked[i], 1)
        << "no single example of " << std::get<0>(kDocumentedAnswers[i]) << " holds "
        << std::get<1>(kDocumentedAnswers[i]);
  }
  // The examples found per file: a change to the docs that hides one from this test shows here.
  EXPECT_EQ(counted, (std::map<std::string, int>{{"README.md", 12},
                                                 {"docs/api.md", 5},
                                                 {"docs/jobs.md", 6},
                                                 {"docs/mt.md", 2},
                                                 {"docs/operations.md", 7},
                                                 {"docs/users.md", 8},
                                                 {"docs/workbench.md", 2}}));
}

}  // namespace
}  // namespace verso
