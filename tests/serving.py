"""Waiting for a real `feedbackbot` process to answer: shared by the process tests."""

from __future__ import annotations

import asyncio

import aiohttp


async def came_up(process: asyncio.subprocess.Process, url: str, *,
                  tries: int = 300) -> bool:
    """Whether `url`/healthz said connected before `tries` polls 50 ms apart or an exit."""
    async with aiohttp.ClientSession() as session:
        for _ in range(tries):
            if process.returncode is not None:
                return False
            try:
                async with session.get(f"{url}/healthz") as response:
                    if response.status == 200 and (await response.json())["connected"]:
                        return True
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.05)
    return False
