// tests/apps/process_util.hpp — running the apps as real processes from a test: the binaries'
// paths (set by meson test in TTTREC_TRAIN_BIN / TTTREC_EVAL_BIN), spawning with extra
// environment variables and limits, waiting, killing, and the outcome in words.
//
// The test binary has thread-pool workers, so the child does only async-signal-safe calls between fork
// and exec (dup2, setrlimit, signal, setgid/setuid, execve); everything it needs is prepared first.
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace tt::testing {

// The path of an app from the environment variable `var`, or "" when unset or not executable
// (then the tests that need it skip).
inline std::string app_path(const char* var) {
    const char* p = std::getenv(var);
    if (!p || !*p || ::access(p, X_OK) != 0) return "";
    return p;
}

struct ChildOptions {
    std::map<std::string, std::string> env;  // added to (or replacing in) the current environment
    long file_size_limit = -1;                // RLIMIT_FSIZE in bytes (a full disk); SIGXFSZ is ignored so writes fail with EFBIG
    bool as_nobody = false;                   // run as uid/gid 65534 (when the test runs as root: an unwritable directory)
    std::string output;                       // file receiving the child's stdout and stderr
};

// Starts `args` (args[0] is the binary) and returns its pid. A child that could not drop its
// privileges exits with 111, one that could not exec with 112.
inline pid_t spawn(const std::vector<std::string>& args, const ChildOptions& o) {
    std::vector<std::string> env_strings;
    for (char** e = environ; *e; ++e) {
        std::string kv = *e;
        if (!o.env.count(kv.substr(0, kv.find('=')))) env_strings.push_back(kv);
    }
    for (const auto& [k, v] : o.env) env_strings.push_back(k + "=" + v);
    std::vector<char*> argv, envp;
    for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    for (const std::string& e : env_strings) envp.push_back(const_cast<char*>(e.c_str()));
    envp.push_back(nullptr);
    const std::string out = o.output.empty() ? "/dev/null" : o.output;

    pid_t pid = ::fork();
    if (pid != 0) return pid;
    int fd = ::open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd >= 0) {
        ::dup2(fd, 1);
        ::dup2(fd, 2);
        ::close(fd);
    }
    if (o.file_size_limit >= 0) {
        ::signal(SIGXFSZ, SIG_IGN);
        struct rlimit r{static_cast<rlim_t>(o.file_size_limit), static_cast<rlim_t>(o.file_size_limit)};
        ::setrlimit(RLIMIT_FSIZE, &r);
    }
    if (o.as_nobody && (::setgid(65534) != 0 || ::setuid(65534) != 0)) ::_exit(111);
    ::execve(argv[0], argv.data(), envp.data());
    ::_exit(112);
}

struct Outcome {
    int exit_code = -1;  // when it exited
    int signal = 0;      // when a signal ended it
    std::string output;  // its stdout + stderr
    std::string str() const {
        return signal ? "killed by signal " + std::to_string(signal) : "exit code " + std::to_string(exit_code);
    }
};

inline Outcome wait_for(pid_t pid, const std::string& output_file = "") {
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    Outcome r;
    if (WIFEXITED(status)) r.exit_code = WEXITSTATUS(status);
    if (WIFSIGNALED(status)) r.signal = WTERMSIG(status);
    if (!output_file.empty()) {
        std::ifstream in(output_file);
        std::stringstream ss;
        ss << in.rdbuf();
        r.output = ss.str();
    }
    return r;
}

// Runs to the end; the output is captured in a scratch file next to `scratch_dir`.
inline Outcome run(const std::vector<std::string>& args, ChildOptions o = {}, const std::string& scratch_dir = "") {
    std::string out = (std::filesystem::path(scratch_dir.empty() ? std::filesystem::temp_directory_path().string() : scratch_dir) /
                       ("child-output-" + std::to_string(::getpid()) + ".txt"))
                          .string();
    o.output = out;
    Outcome r = wait_for(spawn(args, o), out);
    std::filesystem::remove(out);
    return r;
}

}  // namespace tt::testing
