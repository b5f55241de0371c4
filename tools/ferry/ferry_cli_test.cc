// The ferry binary as a user runs it: exit codes, help, validate's output.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace {

struct Outcome {
  int status = -1;
  std::string out;
  std::string err;
};

std::string runfile(const std::string& path) {
  return std::string(std::getenv("TEST_SRCDIR")) + "/" + std::getenv("TEST_WORKSPACE") + "/" + path;
}

std::string temp_path(const std::string& name) { return std::string(std::getenv("TEST_TMPDIR")) + "/" + name; }

std::string read(const std::string& path) {
  std::ifstream file(path);
  std::stringstream text;
  text << file.rdbuf();
  return text.str();
}

std::string write(const std::string& name, const std::string& text) {
  const std::string path = temp_path(name);
  std::ofstream(path) << text;
  return path;
}

std::string shell_quoted(const std::string& arg) {
  std::string out = "'";
  for (char c : arg) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

Outcome ferry(const std::vector<std::string>& args) {
  std::string command = shell_quoted(runfile("tools/ferry/ferry"));
  for (const std::string& arg : args) command += " " + shell_quoted(arg);
  const std::string out = temp_path("stdout"), err = temp_path("stderr");
  const int raw = std::system((command + " >" + out + " 2>" + err).c_str());
  Outcome run;
  run.status = WIFEXITED(raw) ? WEXITSTATUS(raw) : -1;
  run.out = read(out);
  run.err = read(err);
  return run;
}

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

// The summary without its wrapping, to look for phrases that the wrapping may split.
std::string unwrapped(std::string text) {
  for (size_t at; (at = text.find("\n  ")) != std::string::npos;) text.replace(at, 3, " ");
  return text;
}

const std::string kDefault = "scenarios/default.yaml";  // relative to the runfiles tree, the test's directory

TEST(FerryCli, HelpExitsZero) {
  const Outcome help = ferry({"--help"});
  EXPECT_EQ(help.status, 0);
  EXPECT_TRUE(contains(help.out, "usage: ferry COMMAND"));
  for (const char* command : {"validate", "replay", "diff", "bench", "qualify", "swarm"}) {
    EXPECT_TRUE(contains(help.out, std::string("\n  ") + command + " ")) << command;
    const Outcome sub = ferry({command, "--help"});
    EXPECT_EQ(sub.status, 0) << command;
    EXPECT_TRUE(contains(sub.out, std::string("usage: ferry ") + command)) << command;
    EXPECT_TRUE(contains(sub.out, "Exit status:")) << command;
    EXPECT_EQ(ferry({"help", command}).out, sub.out) << command;
  }
  EXPECT_EQ(ferry({"-h"}).out, help.out);
  EXPECT_EQ(ferry({"help"}).out, help.out);
}

TEST(FerryCli, ValidatePrintsOkAndASummary) {
  const Outcome run = ferry({"validate", kDefault});
  EXPECT_EQ(run.status, 0) << run.err;
  EXPECT_EQ(run.out.rfind(kDefault + ": ok\n  default: ", 0), 0u) << run.out;
  const std::string paragraph = unwrapped(run.out);
  for (const char* part :
       {"2 nodes x 4 GPUs", "on emu (deterministic, seed 1)", "Model mixtral-8x22b", "KV cache 229,376 B per token",
        "tp_decode", "pd_disagg", "moe", "pp", "weight_load", "No faults."}) {
    EXPECT_TRUE(contains(paragraph, part)) << part << "\n" << run.out;
  }
  EXPECT_EQ(run.err, "");
}

TEST(FerryCli, ValidateQuietAndScale) {
  const Outcome quiet = ferry({"validate", "--quiet", kDefault});
  EXPECT_EQ(quiet.status, 0);
  EXPECT_EQ(quiet.out, kDefault + ": ok\n");
  const Outcome scaled = ferry({"validate", "--scale=0.5", kDefault});
  EXPECT_EQ(scaled.status, 0);
  EXPECT_TRUE(contains(scaled.out, "scaled by 0.5")) << scaled.out;
  EXPECT_TRUE(contains(unwrapped(scaled.out), "32 MiB to each of 8 GPUs")) << scaled.out;
}

TEST(FerryCli, InvalidScenarioExitsOneWithEveryError) {
  const std::string bad = write("bad.yaml",
                                "cluster: {nodes: 2, gpus_per_node: 8, nic_rate: 200 Gb/s}\n"
                                "fabric: {provider: emu}\n"
                                "model: llama-3-7b\n"
                                "workloads: [{kind: tp_decode, tp: 32, batch: 1, tokens: 1}]\n"
                                "faultz: []\n");
  const Outcome run = ferry({"validate", bad, kDefault});
  EXPECT_EQ(run.status, 1);
  EXPECT_EQ(run.err, bad + ":3:8: model: unknown preset 'llama-3-7b' (did you mean 'llama-3-70b'?)\n" + bad +
                         ":4:35: workloads[0].tp: tp 32 needs 32 GPUs; the cluster has 16 (2 nodes x 8 GPUs)\n" + bad +
                         ":5:1: unknown key 'faultz' (did you mean 'faults'?)\n" + bad + ": invalid (3 errors)\n");
  EXPECT_EQ(run.out.rfind(kDefault + ": ok\n", 0), 0u) << "every file is checked";
}

TEST(FerryCli, UnreadableFileExitsOne) {
  const Outcome run = ferry({"validate", "no/such.yaml"});
  EXPECT_EQ(run.status, 1);
  EXPECT_EQ(run.err, "no/such.yaml: cannot read: No such file or directory\nno/such.yaml: invalid (1 error)\n");
}

TEST(FerryCli, UsageErrorsExitTwo) {
  struct Case {
    std::vector<std::string> args;
    std::string message;
  };
  const std::vector<Case> cases = {
      {{}, "ferry: missing COMMAND (validate, replay, diff, bench, qualify or swarm)"},
      {{"swarm"}, "ferry swarm: give either --seed N or --seeds N"},
      {{"swarm", "--seed", "x"}, "ferry swarm: --seed takes a number, not 'x'"},
      {{"swarm", "--seeds", "3", "--jobs", "0"}, "ferry swarm: --jobs takes a number from 1 to 256, not '0'"},
      {{"valdate", kDefault}, "ferry: unknown command 'valdate' (did you mean 'validate'?)"},
      {{"--scale", "2"}, "ferry: unknown option '--scale'"},
      {{"validate"}, "ferry validate: missing FILE..."},
      {{"validate", "--scal", "2", kDefault}, "ferry validate: unknown option '--scal' (did you mean '--scale'?)"},
      {{"validate", "--scale", "-1", kDefault}, "ferry validate: --scale takes a number in (0, 1e+06], got '-1'"},
      {{"validate", kDefault, "--scale"}, "ferry validate: option '--scale' needs a value (X)"},
      {{"replay"}, "ferry replay: missing FILE"},
      {{"diff", "a.json"}, "ferry diff: missing BASELINE REPORT"},
      {{"qualify", "extra"}, "ferry qualify: takes no operands, got 1"},
      {{"help", "frob"}, "ferry: unknown command 'frob'"},
  };
  for (const Case& c : cases) {
    const Outcome run = ferry(c.args);
    EXPECT_EQ(run.status, 2) << c.message;
    EXPECT_EQ(run.err.rfind(c.message, 0), 0u) << run.err;
    EXPECT_TRUE(contains(run.err, "--help' for usage.")) << run.err;
  }
}

}  // namespace
