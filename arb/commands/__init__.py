"""CLI subcommands that wire several packages together."""
