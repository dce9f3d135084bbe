"""The engine's moving parts that are neither pure logic nor a venue: clock, funnel, writer, status."""
