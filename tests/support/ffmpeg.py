"""Decode a playlist with the real ffmpeg (from imageio-ffmpeg) and count its frames."""

from __future__ import annotations

import re
import subprocess

import imageio_ffmpeg


def decoded_frames(source: str, *input_flags: str) -> int:
    """Decode the first video and audio streams of `source` to the null muxer; fail on any
    error line; return the number of video frames decoded."""
    cmd = [imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-nostdin", "-v", "error", "-stats",
           *input_flags, "-i", source, "-map", "0:v:0", "-map", "0:a:0", "-fps_mode", "passthrough",
           # AAC frames overlap a few ms at each join; resampling re-times them so the null
           # muxer's monotonic-DTS check does not report the join itself as an error.
           "-af", "aresample=async=1", "-f", "null", "-"]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    stats = proc.stderr.replace("\r", "\n")
    errors = [line for line in stats.splitlines() if line.strip() and not line.lstrip().startswith("frame=")]
    assert errors == [], errors
    return int(re.findall(r"frame=\s*(\d+)", stats)[-1])
