"""The background tuned model: started once the server is ready, in a low-priority process, watched from here.

``BackgroundTuning.tick`` runs periodically in the server. The first tick after start-up starts the job when the
model in force is not tuned yet and no job was already run for it: it takes the one model-job lease (so one job
runs across replicas), then starts ``triage model train --tuned --promote --job ID`` under ``nice`` with one
compute thread. The job reports its own progress in ``model_jobs``; later ticks watch the process, and a process
that dies without saying how it ended is recorded as failed, with the end of its log. The model in force is
never touched by a failed job.
"""

from __future__ import annotations

import logging
import subprocess
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import IO, Any

from triage.domain.models.schemas import JobStatus, ModelJobRead, Recipe
from triage.domain.models.services import ModelRegistry

log = logging.getLogger("triage")

BACKGROUND_TUNING = "background_tuning"
LOG_TAIL_CHARS = 1500
STOPPED = "stopped with the server"


def log_tail(path: Path | None) -> str:
    if path is None or not path.is_file():
        return ""
    text = path.read_text(encoding="utf-8", errors="replace")
    return text[-LOG_TAIL_CHARS:].strip()


def job_summary(job: ModelJobRead | None) -> dict[str, Any] | None:
    """A job as ``/ready`` shows it."""
    if job is None:
        return None
    return {
        "id": job.id,
        "status": job.status.value,
        "step": job.step,
        "progress": round(job.progress, 2),
        "candidate": job.candidate_version_id,
        "detail": job.detail,
        "error": job.error,
        "updated_at": job.updated_at.isoformat(),
    }


class BackgroundTuning:
    def __init__(
        self,
        registry: ModelRegistry,
        *,
        command: Callable[[str], Sequence[str]],
        environment: dict[str, str],
        log_dir: Path,
        lease_s: float,
        serves_tuned: bool = True,
    ) -> None:
        self.registry = registry
        self.serves_tuned = serves_tuned
        """False when the serving encoder backend cannot load a tuned member (onnx-int8): no job then."""
        self.command = command
        self.environment = environment
        self.log_dir = log_dir
        self.lease_s = lease_s
        self._process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None
        self._job: ModelJobRead | None = None
        self._considered = False

    def latest(self) -> dict[str, Any] | None:
        jobs = self.registry.jobs(limit=1, kind=BACKGROUND_TUNING)
        return job_summary(jobs[0] if jobs else None)

    def tick(self) -> None:
        """Start the job (once per process, when it is due) or watch the one running."""
        if self._process is not None:
            self._watch()
            return
        if self._considered:
            return
        self._considered = True
        reason = self._why_not()
        if reason is not None:
            log.info("background tuning not started: %s", reason)
            return
        self.start()

    def _why_not(self) -> str | None:
        if not self.serves_tuned:
            return "the serving encoder backend (onnx-int8) cannot load a tuned encoder; set TRIAGE_ENCODER_BACKEND=torch"
        active = self.registry.active()
        if active is None:
            return "no model in force"
        if active.recipe == Recipe.TUNED:
            return f"the model in force ({active.id}) is tuned already"
        for job in self.registry.jobs(limit=50, kind=BACKGROUND_TUNING):
            stopped = job.status == JobStatus.FAILED and (job.error or "").startswith(STOPPED)
            if job.base_version_id == active.id and job.status != JobStatus.RUNNING and not stopped:
                return f"job {job.id} already ran for {active.id} ({job.status.value})"
        return None

    def start(self) -> ModelJobRead | None:
        """Take the lease and start the job's process; None when another job holds the lease."""
        self.log_dir.mkdir(parents=True, exist_ok=True)
        job = self.registry.start_job(BACKGROUND_TUNING, lease_s=self.lease_s)
        if job is None:
            log.info("background tuning not started: another model job holds the lease")
            return None
        log_file = self.log_dir / f"{job.id}.log"
        self._log = log_file.open("ab")
        try:
            self._process = subprocess.Popen(  # noqa: S603 - our own command line, no shell
                list(self.command(job.id)), env=self.environment, stdout=self._log, stderr=subprocess.STDOUT
            )
        except OSError as exc:
            self._log.close()
            self._log = None
            self.registry.finish_job(job.id, JobStatus.FAILED, error=f"the job could not be started: {exc}")
            log.error("background tuning job %s could not be started: %s", job.id, exc)
            return self.registry.job(job.id)
        self.registry.report_job(
            job.id, lease_s=self.lease_s, pid=self._process.pid, log_file=str(log_file), step="started"
        )
        self._job = self.registry.job(job.id)
        log.info("background tuning started: job %s, process %s, log %s", job.id, self._process.pid, log_file)
        return self._job

    def _watch(self) -> None:
        process, job = self._process, self._job
        if process is None or job is None or process.poll() is None:
            return
        self._process = None
        if self._log is not None:
            self._log.close()
            self._log = None
        current = self.registry.job(job.id)
        if current.finished_at is None:
            tail = log_tail(Path(current.log_file) if current.log_file else None)
            error = f"the job's process exited with code {process.returncode}" + (f": {tail}" if tail else "")
            self.registry.finish_job(job.id, JobStatus.FAILED, error=error)
            log.error("background tuning job %s died; the model in force stays: %s", job.id, error)
        else:
            log.info("background tuning job %s ended: %s", job.id, current.status.value)

    def close(self) -> None:
        """Stop a job still running when the server stops: recorded as stopped, and started again (for the same
        model in force) when the server starts again; a job that failed on its own is not retried."""
        process, job = self._process, self._job
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            if job is not None:
                self.registry.finish_job(
                    job.id, JobStatus.FAILED, error=f"{STOPPED}; it starts again with the server"
                )
        if process is not None and job is not None:
            self._watch()
