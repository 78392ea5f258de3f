"""Texts people read (grid workers, residents, the hotline), in one place."""

HOUSEHOLD_UNKNOWN = "登记簿中没有该住户"
BUILDING_UNKNOWN = "登记簿中没有该楼栋"
HOUSEHOLD_NOT_IN_BUILDING = "该住户不属于所填楼栋"
NEED_PLACE = "请填写住户或楼栋"
REPORT_NOT_FOUND = "未找到该诉求"
NOT_YOUR_GRID = "该住户不在您负责的网格"
