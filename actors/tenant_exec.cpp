// Exec: a process in a running container with a timeout, its output captured to a file the
// log I/O actor creates, reads back and removes.
#include "actors/tenant_jobs.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstring>

#include <algorithm>
#include <filesystem>
#include <memory>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "actors/tenant_steps.hpp"
#include "src/oci/lexer.hpp"
#include "src/oci/spec.hpp"

namespace contd::jobs {

using namespace std::chrono_literals;

void exec(tenant_pointer self, string id, caf::timespan timeout, std::vector<string> args,
          void_promise rp, done_fn done) {
  auto ns = self->state.ns;
  auto fail = [rp, done](caf::error err) mutable {
    rp.deliver(std::move(err));
    done();
  };
  auto not_running = [self, id](const string& status) {
    return make_error(errc::failed_precondition,
                      where(self, id) + " is not running (" + status + ")");
  };
  // The exit code decides; the output (stdout and stderr merged, its tail) explains a failure.
  auto answer = [rp, done](uint32_t code, const string& output, const string& lost) mutable {
    if (code == 0) {
      rp.deliver(caf::unit);
    } else {
      auto text = "non-zero exit code: " + std::to_string(code);
      if (!lost.empty())
        text += " (output lost: " + lost + ")";
      if (!output.empty())
        text += "\n" + (output.size() <= 4096 ? output : output.substr(output.size() - 4096));
      rp.deliver(make_error(errc::exec_failed, text));
    }
    done();
  };
  auto run_with = [self, ns, id, timeout, fail, answer](string proc, string capture) mutable {
    auto& st = self->state;
    // Unique across tenant incarnations: a process left by an earlier one must not collide.
    auto exec_id = "exec-" + st.exec_prefix + "-" + std::to_string(++st.exec_counter);
    self
      ->request(st.client, timeout + call_timeout(self), atom::exec_run_v, ns, id, exec_id, proc,
                timeout, capture)
      .then(
        [self, capture, answer](exec_result& r) mutable {
          auto& st = self->state;
          if (capture.empty()) {
            answer(r.exit_code, {}, {});
            return;
          }
          auto code = r.exit_code;
          self
            ->request(st.io, st.config.io_timeout, atom::capture_read_v, capture,
                      st.config.exec_max_output)
            .then([code, answer](exec_result& out) mutable { answer(code, out.output, {}); },
                  [code, answer](caf::error& err) mutable { answer(code, {}, error_text(err)); });
        },
        [self, capture, fail](caf::error& err) mutable {
          if (!capture.empty()) // the output is not needed: read and drop the file
            self
              ->request(self->state.io, self->state.config.io_timeout, atom::capture_read_v,
                        capture, uint64_t{0})
              .then([](exec_result&) {}, [](caf::error&) {});
          if (err == errc::timeout)
            fail(make_error(errc::timeout, "execution timed out"));
          else
            fail(err);
        });
  };
  auto run_in = [self, ns, fail, run_with](string proc) mutable {
    auto& st = self->state;
    if (!st.io) {
      run_with(std::move(proc), string{});
      return;
    }
    // The capture file, with the output's space reserved: a full disk fails the Exec here
    // instead of losing its output silently.
    self->request(st.io, st.config.io_timeout, atom::capture_new_v, ns, st.config.exec_max_output)
      .then([run_with, proc](string& capture) mutable { run_with(proc, capture); },
            [fail](caf::error& err) mutable {
              fail(make_error(err == errc::unavailable ? errc::unavailable : errc::internal,
                              "Exec not started: " + error_text(err)));
            });
  };
  if (auto* m = model_of(self, id); m && self->state.synced) {
    if (m->state.status != container_status::running) {
      fail(not_running(to_string(m->state.status)));
      return;
    }
    auto process = oci::exec_process_from_text(m->spec_json, args);
    if (!process) {
      fail(make_error(errc::invalid_argument, process.error()));
      return;
    }
    run_in(process->dump());
    return;
  }
  self->request(client(self), call_timeout(self), atom::ctr_get_v, ns, id)
    .then(
      [self, ns, id, args, fail, not_running, run_in](container_record& rec) mutable {
        auto process = oci::exec_process_from_text(rec.spec_json, args);
        if (!process) {
          fail(make_error(errc::invalid_argument, process.error()));
          return;
        }
        self->request(client(self), call_timeout(self), atom::tsk_get_v, ns, id)
          .then(
            [proc = process->dump(), fail, not_running, run_in](task_info& t) mutable {
              if (t.status != task_status::running) {
                fail(not_running(to_string(t.status)));
                return;
              }
              run_in(proc);
            },
            [fail, not_running](caf::error& err) mutable {
              if (err == errc::not_found)
                fail(not_running("no task"));
              else
                fail(err);
            });
      },
      [fail](caf::error& err) mutable {
        // The original's text, which keeps "not found" for a missing container.
        fail(make_error(err == errc::not_found ? errc::not_found : errc::internal,
                        "couldn't load container: " + error_text(err)));
      });
}
} // namespace contd::jobs
