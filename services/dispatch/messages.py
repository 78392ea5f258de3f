"""Texts people read (unit dispatchers, task forces), in one place."""

ASSIGNMENT_NOT_FOUND = "未找到该派单，或该派单不属于本单位"
CASE_NOT_FOUND = "未找到该案件"
ALREADY_SIGNED_IN = "该派单已签收"
SIGN_IN_FIRST = "请先签收该派单"
ALREADY_ON_SITE = "已到场，无需重复操作"
ALREADY_RESOLVED = "该派单已办结"
NOT_YOUR_STREET = "该案件不在本街道辖区"
