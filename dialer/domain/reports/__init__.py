"""The DCC's routine reports beyond the monthly KPIs: the morning meeting's daily sheet, the weekly review."""
